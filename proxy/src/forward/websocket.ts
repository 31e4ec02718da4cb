// forward/websocket.ts — the WebSocket path: the upstream's answer to an upgrade (101 or refused) filtered like
// any answer, the frame boundaries of what it sends the client, and Drawbridge's own close (a policy close, 1008).
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { clearFlightTimer, FLIGHT, ignore, type Flight, type InFlight } from './flight.js';
import { connectionOptions, relayedHeader } from './relay.js';
import { closeFrame, FrameBoundary } from './ws-frames.js';

/** A forwarded WebSocket, for Drawbridge to close it when it may no longer be open (runtime/websockets.ts). */
export interface WebSocketHandle {
  /**
   * Closes it for good. After the 101: nothing more is relayed either way, the upstream's socket is destroyed, and
   * the client gets a close frame with `code` and `reason` when the upstream's stream is between two frames (else
   * its socket is just destroyed); its socket is destroyed once it answers, or after a second. Before the 101: both
   * sides are destroyed. Idempotent.
   */
  close(code: number, reason: string): void;
}

/** How long a client that got Drawbridge's close frame has to answer it before its socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

/**
 * `relayedHeader` (and the removal of what the answer's Connection names) applied in place to the headers of an
 * upstream's answer to a WebSocket upgrade, which http-proxy-3
 * then writes to the client: its 101 (whose `Connection: Upgrade` is Drawbridge's own: the handshake needs it), or a
 * refused handshake (`Connection: close`: Drawbridge closes the client's socket after it).
 */
function filterHandshakeHeaders(headers: http.IncomingHttpHeaders, reservedCookie: ((name: string) => boolean) | undefined, upgraded: boolean): void {
  // The headers the upstream's Connection names are hop-by-hop (RFC 9110 §7.6.1), but a 101's Upgrade: the client's
  // connection switches protocols too.
  const named = typeof headers.connection === 'string' ? connectionOptions(headers.connection, undefined) : undefined;
  if (named !== undefined) for (const name of named) if (!(upgraded && name === 'upgrade')) delete headers[name];
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      const kept = value.filter((v) => relayedHeader(name, v, reservedCookie));
      if (kept.length === 0) delete headers[name];
      else if (kept.length !== value.length) headers[name] = kept;
    } else if (!relayedHeader(name, value, reservedCookie)) {
      delete headers[name];
    }
  }
  headers.connection = upgraded ? 'Upgrade' : 'close';
}

// Registered on every pool's proxy (forward/pools.ts). These listeners run before http-proxy-3's own (it emits
// proxyReqWs before it listens), which then write the answer's headers to the client and pipe the sockets: the
// headers are filtered here first.
export const onProxyReqWs = (proxyReq: http.ClientRequest, req: http.IncomingMessage): void => {
  const flight = (req as InFlight)[FLIGHT];
  if (!flight) return;
  flight.proxyReq = proxyReq;
  proxyReq.once('upgrade', (proxyRes: http.IncomingMessage, proxySocket: Duplex) => {
    clearFlightTimer(flight);
    flight.upstreamMs = performance.now() - flight.start;
    flight.upgraded = true;
    flight.status = 101;
    filterHandshakeHeaders(proxyRes.headers, flight.reservedCookie, true);
    flight.upstreamSocket = proxySocket;
    if (flight.closedByUs || flight.target.destroyed) {
      // Closed (or gone) while the upstream was answering: no tunnel is opened.
      proxySocket.destroy();
      return;
    }
    // Sees every chunk the upstream sends the client, in order, in the same turn as the library's pipe writes it
    // (the upstream's first bytes, which the library unshifts, included). Paused, so that nothing flows before
    // that pipe exists: the pipe resumes the socket.
    const frames = new FrameBoundary();
    flight.frames = frames;
    proxySocket.on('data', (chunk: Buffer) => frames.push(chunk));
    proxySocket.pause();
  });
  proxyReq.once('response', (proxyRes: http.IncomingMessage) => {
    clearFlightTimer(flight);
    flight.upstreamMs = performance.now() - flight.start;
    flight.status = proxyRes.statusCode ?? 502;
    filterHandshakeHeaders(proxyRes.headers, flight.reservedCookie, false);
  });
};

/** `WebSocketHandle.close` (see there). */
export function closeWebSocket(flight: Flight, code: number, reason: string): void {
  if (flight.closedByUs) return;
  flight.closedByUs = true;
  clearFlightTimer(flight);
  const client = flight.target as Duplex;
  const upstream = flight.upstreamSocket;
  if (!flight.upgraded || upstream === undefined) {
    flight.proxyReq?.destroy();
    client.destroy();
    return;
  }
  upstream.unpipe(client);
  client.unpipe(upstream);
  // What the upstream sent so far is exactly what was written to the client (the tracker and the pipe see the same
  // chunks): between two frames, one more frame keeps the stream well-formed.
  const between = flight.frames?.atBoundary === true;
  upstream.destroy();
  if (!between || !client.writable) {
    client.destroy();
    return;
  }
  const timer = setTimeout(() => client.destroy(), CLOSE_GRACE_MS);
  timer.unref();
  client.once('close', () => clearTimeout(timer));
  // The client answers with its own close frame and ends its side; what it sends meanwhile is read and dropped (a
  // socket closed with unread input would reset the connection, and the client might lose the close frame).
  client.once('end', () => client.destroy());
  client.on('data', ignore);
  client.end(closeFrame(code, reason));
}
