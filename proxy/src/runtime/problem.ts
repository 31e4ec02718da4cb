// runtime/problem.ts — the one way Drawbridge answers a problem (SPEC §3 step 5–6, errors.ts catalog): the pipeline,
// the sign-in pages and the forwarder's 502/504 all call `answerProblem`, which takes the status, the JSON `error`
// slug, the page title and the headers from the catalog, and records the code for the request log.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import { idpMisconfiguredPage, problemPage, unavailablePage, upstreamErrorPage } from '../pages/views.js';
import { isBrowser, redirect, sendJson, sendPage } from './respond.js';
import { peekExchange } from './runtime.js';

/** Seconds of a catalog entry's Retry-After. */
function retryAfter(code: 'DRB_IDP_UNAVAILABLE' | 'DRB_STORE_UNAVAILABLE'): number {
  return Number(ERROR_CODES[code].headers['retry-after']);
}

/** The page of the codes whose page needs nothing but the request id; the others get theirs from the caller. */
const STANDARD_PAGES: Partial<Record<ErrorCode, (requestId: string) => string>> = {
  DRB_IDP_UNAVAILABLE: (requestId) => unavailablePage({ what: 'idp', requestId, retryAfterSec: retryAfter('DRB_IDP_UNAVAILABLE') }),
  DRB_STORE_UNAVAILABLE: (requestId) => unavailablePage({ what: 'store', requestId, retryAfterSec: retryAfter('DRB_STORE_UNAVAILABLE') }),
  DRB_IDP_MISCONFIGURED: (requestId) => idpMisconfiguredPage({ requestId }),
  DRB_UPSTREAM_UNAVAILABLE: (requestId) => upstreamErrorPage({ status: 502, requestId }),
  DRB_UPSTREAM_TIMEOUT: (requestId) => upstreamErrorPage({ status: 504, requestId }),
};

/** This answer's specifics; the catalog gives the rest. */
export interface ProblemDetails {
  /** The browser page with this request's specifics (one of pages/views.ts); default: the code's standard page, else the generic one. */
  readonly page?: (requestId: string) => string;
  /** Fields of the JSON body after `error` (the request id comes last). */
  readonly json?: Readonly<Record<string, unknown>>;
  /** Headers of this answer beside the catalog's (a WWW-Authenticate challenge, Set-Cookie, Connection: close). */
  readonly headers?: Readonly<Record<string, string | string[]>>;
  /** A status other than the catalog's (a sign-in the IdP itself refused is 403). */
  readonly status?: number;
  /** 401: where to sign in. Browsers are sent there (302); API clients get it as `signIn` with the challenge. */
  readonly signIn?: string;
  /** `html`: the page whatever the client accepts (a request too malformed to negotiate); `json`: an API endpoint. */
  readonly format?: 'html' | 'json';
  /** Node's code for the cause (ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE...), logged beside `errorCode`. */
  readonly cause?: string;
}

/**
 * Answers `code`: an HTML page for browsers (or, with `signIn`, a redirect to sign in), JSON `{"error": slug, ...,
 * "requestId"}` for everything else, with the catalog's headers; the request log line gets `errorCode` (and
 * `cause`). A response already started is cut instead (respond.ts).
 */
export function answerProblem(req: IncomingMessage, res: ServerResponse, code: ErrorCode, details: ProblemDetails = {}): void {
  const spec: { readonly status: number; readonly slug: string; readonly headers?: Readonly<Record<string, string>> } = ERROR_CODES[code];
  const x = peekExchange(req);
  const requestId = x?.id ?? '';
  if (x) {
    x.errorCode = code;
    if (details.cause !== undefined) x.errorCause = details.cause;
  }
  const status = details.status ?? spec.status;
  const headers = spec.headers === undefined ? (details.headers ?? {}) : { ...spec.headers, ...details.headers };
  const browser = details.format === 'html' || (details.format !== 'json' && isBrowser(req));
  if (browser) {
    if (details.signIn !== undefined) return redirect(res, details.signIn);
    const page = details.page ?? STANDARD_PAGES[code];
    return sendPage(res, status, page ? page(requestId) : problemPage({ code, requestId, status }), headers);
  }
  const body = { error: spec.slug, ...(details.signIn !== undefined ? { signIn: details.signIn } : {}), ...details.json, requestId };
  sendJson(res, status, body, headers);
}
