// forward/flight.ts — one forwarded request or upgrade in flight (the state the relay and the WebSocket path share,
// attached to the request so shared listeners allocate no closure per request), its timeout, and its one ending:
// a failure becomes Drawbridge's 502/504 (never the upstream's address or error), `done` is called once.
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { DrawbridgeError } from '../errors.js';
import type { Route } from '../routes/compile.js';
import { Deadlines, type Deadlined } from './deadlines.js';
import type { Pool } from './pools.js';
import type { FrameBoundary } from './ws-frames.js';

/** How one forwarded request ended, for the request log and metrics. */
export interface ForwardResult {
  /** Status sent to the client: the upstream's, 502/504 on failure, 101 for an upgrade, 499 if the client left first. */
  status: number;
  /** Milliseconds from dispatch to the upstream's response headers (or to the failure). */
  upstreamMs: number;
  error?: 'unavailable' | 'timeout';
  /** The problem answered (or logged, when the response had started), from `upstreamProblem`. */
  problem?: UpstreamProblem;
}

/** An upstream failure as Drawbridge reports it: its catalog code, and Node's code for the cause. */
export interface UpstreamProblem {
  readonly code: 'DRB_UPSTREAM_UNAVAILABLE' | 'DRB_UPSTREAM_TIMEOUT';
  /** Node's error code (ECONNREFUSED, ECONNRESET, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_TLS_CERT_ALTNAME_INVALID...), if it gave one. */
  readonly cause?: string;
}

/**
 * The one mapping of an upstream failure to a problem: no answer within the route's timeout is
 * DRB_UPSTREAM_TIMEOUT, anything else (refused, reset, DNS, a TLS certificate the route does not trust)
 * DRB_UPSTREAM_UNAVAILABLE; the cause keeps Node's own code (the TLS verification error, not just "failed").
 */
export function upstreamProblem(err: Error, timedOut: boolean): UpstreamProblem {
  const code = timedOut ? 'DRB_UPSTREAM_TIMEOUT' : 'DRB_UPSTREAM_UNAVAILABLE';
  const cause = timedOut ? undefined : (err as NodeJS.ErrnoException).code;
  return typeof cause === 'string' && cause !== '' ? { code, cause } : { code };
}

/**
 * Called once when a forwarded request ends, with the request and the client's response (web) or socket (ws) it
 * was forwarded for: a caller can pass one function for every request rather than a closure per request.
 */
export type ForwardDone = (result: ForwardResult, req: http.IncomingMessage, target: http.ServerResponse | Duplex) => void;

/** Answers an upstream failure with Drawbridge's own 502/504 (runtime/problem.ts); must not include upstream details. */
export type RenderError = (res: http.ServerResponse, problem: UpstreamProblem, req: http.IncomingMessage) => void;

/** Receives every upstream failure with its details (address, cause) for the log; the client never sees them. */
export type UpstreamErrorListener = (err: Error, req: http.IncomingMessage, problem: UpstreamProblem) => void;

/** Client closed the request before a response (nginx's convention). */
const CLIENT_CLOSED = 499;

export const FLIGHT = Symbol('drawbridge.flight');

/** One request in flight, attached to its IncomingMessage. */
export interface Flight {
  readonly route: Route;
  /** The pool it goes through: entered by `newFlight`, left by `report`. */
  readonly pool: Pool;
  readonly req: http.IncomingMessage;
  /** The client's response (web) or socket (ws). */
  readonly target: http.ServerResponse | Duplex;
  readonly onError: UpstreamErrorListener | undefined;
  /** True for a cookie name that belongs to Drawbridge (see ForwarderOptions.reservedCookie). */
  readonly reservedCookie: ((name: string) => boolean) | undefined;
  readonly start: number;
  readonly done: ForwardDone;
  readonly renderError: RenderError | undefined;
  /** The upstream request of an upgrade, from the proxyReqWs event (ws). */
  proxyReq: http.ClientRequest | undefined;
  /** The upstream request of a plain request (relay.ts), to abort it when the client leaves or the timeout fires. */
  abortUpstream: { cancel(): void } | undefined;
  /** The route's timeout (`startFlightTimer`): the flight's place in FLIGHT_DEADLINES (forward/deadlines.ts). */
  dueAt: number;
  dueList: object | undefined;
  duePrev: Deadlined | undefined;
  dueNext: Deadlined | undefined;
  upstreamMs: number;
  status: number;
  error: 'unavailable' | 'timeout' | undefined;
  problem: UpstreamProblem | undefined;
  /** Strict-Transport-Security to add to the upstream's response (over HTTPS), unless it sends its own. */
  hsts: string | undefined;
  timedOut: boolean;
  /** The 101 was relayed (ws): failures after it only close the socket. */
  upgraded: boolean;
  reported: boolean;
  /** After the 101 (ws): the upstream's socket, and the frame boundaries of what it sent the client. */
  upstreamSocket: Duplex | undefined;
  frames: FrameBoundary | undefined;
  /** Drawbridge closed the WebSocket itself (`WebSocketHandle.close`): what fails after that is no upstream error. */
  closedByUs: boolean;
}


export type InFlight = http.IncomingMessage & { [FLIGHT]?: Flight };

/** A flight's route timeout expired (FLIGHT_DEADLINES has already taken it out of its list). */
export function onTimeout(flight: Flight): void {
  if (flight.upgraded || flight.error !== undefined) return;
  flight.timedOut = true;
  if (flight.proxyReq && !flight.proxyReq.destroyed) {
    // An upgrade: the library reports the aborted request through its error event, which answers 504 (timedOut is set).
    flight.proxyReq.destroy();
  } else {
    fail(flight, new Error('upstream timeout'));
    flight.abortUpstream?.cancel();
  }
}

/** Records an upstream failure once, logs it through onError, and answers 502/504 if nothing was sent yet. */
export function fail(flight: Flight, err: Error): void {
  if (flight.error !== undefined) return;
  clearFlightTimer(flight);
  const timeout = flight.timedOut;
  flight.error = timeout ? 'timeout' : 'unavailable';
  const problem = upstreamProblem(err, timeout);
  flight.problem = problem;
  flight.upstreamMs = performance.now() - flight.start;
  const status = timeout ? 504 : 502;
  const { req, target } = flight;
  if (flight.onError) {
    const { route } = flight;
    const what = timeout ? `no response within ${route.timeoutMs} ms` : err.message;
    try {
      flight.onError(new DrawbridgeError(problem.code, `forwarding ${req.method} to route "${route.name}" (${route.upstream.origin}): ${what}`, { cause: err }), req, problem);
    } catch {
      // A failing logger must not leave the client without an answer.
    }
  }
  if (target instanceof http.ServerResponse) {
    if (target.headersSent || !flight.renderError) {
      target.destroy();
      return;
    }
    try {
      flight.renderError(target, problem, req);
    } catch {
      target.destroy();
    }
    return;
  }
  flight.status = status;
  // No 101 was relayed (checked by the caller): the client still expects an HTTP response.
  writeRawStatus(target, status, timeout ? 'Gateway Timeout' : 'Bad Gateway', flight.hsts);
}

export function ignore(): void {}

/** A flight through `pool`, which it enters (`report` leaves it). */
export function newFlight(
  route: Route,
  pool: Pool,
  req: http.IncomingMessage,
  target: http.ServerResponse | Duplex,
  onError: Flight['onError'],
  reservedCookie: Flight['reservedCookie'],
  done: ForwardDone,
  renderError: RenderError | undefined,
  hsts?: string,
): Flight {
  pool.enter();
  return {
    route,
    pool,
    req,
    target,
    onError,
    reservedCookie,
    start: performance.now(),
    done,
    renderError,
    proxyReq: undefined,
    abortUpstream: undefined,
    dueAt: 0,
    dueList: undefined,
    duePrev: undefined,
    dueNext: undefined,
    upstreamMs: -1,
    status: 0,
    error: undefined,
    problem: undefined,
    hsts,
    timedOut: false,
    upgraded: false,
    reported: false,
    upstreamSocket: undefined,
    frames: undefined,
    closedByUs: false,
  };
}

/** Calls `done` once, with the status the client got. */
export function report(flight: Flight, res?: http.ServerResponse): void {
  if (flight.reported) return;
  flight.reported = true;
  flight.pool.leave();
  clearFlightTimer(flight);
  if (flight.upstreamMs < 0) flight.upstreamMs = performance.now() - flight.start;
  const failed = flight.error === 'timeout' ? 504 : flight.error ? 502 : CLIENT_CLOSED;
  const status = res ? (res.headersSent ? res.statusCode : failed) : flight.status === 0 ? failed : flight.status;
  const result: ForwardResult = { status, upstreamMs: flight.upstreamMs };
  if (flight.error !== undefined) result.error = flight.error;
  if (flight.problem !== undefined) result.problem = flight.problem;
  flight.done(result, flight.req, flight.target);
}

// Every flight's route timeout: one timer per distinct timeout length, not one per request.
const FLIGHT_DEADLINES = new Deadlines<Flight>(onTimeout);

/**
 * Starts the flight's route timeout: `onTimeout` in `ms` unless `clearFlightTimer` comes first. Counted from the
 * flight's start (read from the same clock, `performance.now()`, just before): one clock read per request fewer.
 */
export function startFlightTimer(flight: Flight, ms: number): void {
  FLIGHT_DEADLINES.add(flight, ms, flight.start);
}

export function clearFlightTimer(flight: Flight): void {
  if (flight.dueList !== undefined) FLIGHT_DEADLINES.remove(flight);
}

export function writeRawStatus(socket: Duplex, status: number, reason: string, hsts: string | undefined): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const sts = hsts !== undefined ? `Strict-Transport-Security: ${hsts}\r\n` : '';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${reason.length + 1}\r\n${sts}\r\n${reason}\n`);
}

// Registered on every pool's proxy (forward/pools.ts): http-proxy-3's error event, for plain requests and upgrades.
export const onProxyError = (err: Error, req: http.IncomingMessage, target: http.ServerResponse | Duplex): void => {
  const flight = (req as InFlight)[FLIGHT];
  if (!flight) {
    target.destroy();
    return;
  }
  // An error from the client's own socket after the upgrade is the client leaving, not an upstream failure; a
  // WebSocket request the upstream already answered (non-101, relayed by the library) gets no second answer.
  if (flight.upgraded || flight.closedByUs || (flight.renderError === undefined && flight.status !== 0)) {
    flight.target.destroy();
    return;
  }
  fail(flight, err);
};
