// e2e/idp/sign-in.ts — drives the dev IdP's sign-in forms from Node with a CookieJarClient: follow the
// authorization redirect, post the password form, then the one-time code form when it is shown.
import { DEV_OTP } from './accounts.js';
import { CookieJarClient, parseForms, type HttpResponse } from '../support/http-client.js';

/** Options of {@link signInAtIdp}. */
export interface SignInOptions {
  login: string;
  /** Default: the login (the dev accounts' password). */
  password?: string;
  /** Default: the dev code; only used when the IdP asks for it. */
  otp?: string;
  /** Stop following redirects before this URL prefix (e.g. the relying party's redirect_uri when nothing serves it). */
  stopAt?: string;
  /** Extra request headers (e.g. `{ accept: 'text/html' }` when the start URL is a Drawbridge route). */
  headers?: Record<string, string>;
}

/** What happened on the way; `response` is the last answer (a 3xx to `stopAt`, or the page reached). */
export interface SignInResult {
  response: HttpResponse;
  /** Whether the password form was shown (false when the IdP session was reused). */
  askedPassword: boolean;
  /** Whether the one-time code form was shown. */
  askedOtp: boolean;
}

/** The password form of a dev IdP page, if the page is one. */
export function findLoginForm(response: HttpResponse) {
  return parseForms(response.body, response.url).find((form) => 'login' in form.fields || /\/login$/.test(form.action));
}

/** The one-time code form of a dev IdP page, if the page is one. */
export function findOtpForm(response: HttpResponse) {
  return parseForms(response.body, response.url).find((form) => /\/interaction\/[\w-]+\/otp$/.test(form.action));
}

/**
 * Starts at `startUrl` (an authorization URL, or a protected URL that redirects to one), signs in with
 * the forms the IdP shows, and follows redirects until `stopAt` or the final page.
 */
export async function signInAtIdp(client: CookieJarClient, startUrl: string | URL, options: SignInOptions): Promise<SignInResult> {
  const follow = { redirect: 'follow' as const, stopAt: options.stopAt, headers: options.headers };
  let response = await client.get(startUrl, follow);
  let askedPassword = false;
  let askedOtp = false;
  const login = findLoginForm(response);
  if (login) {
    askedPassword = true;
    response = await client.post(login.action, { ...follow, form: { login: options.login, password: options.password ?? options.login } });
    if (findLoginForm(response)) throw new Error(`signInAtIdp: the IdP refused the password of ${options.login}`);
  }
  const otp = findOtpForm(response);
  if (otp) {
    askedOtp = true;
    response = await client.post(otp.action, { ...follow, form: { otp: options.otp ?? DEV_OTP } });
    if (findOtpForm(response)) throw new Error('signInAtIdp: the IdP refused the one-time code');
  }
  return { response, askedPassword, askedOtp };
}
