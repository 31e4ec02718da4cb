// signin/express-h2.ts — Drawbridge's Express pages over HTTP/2. Express gives every request and response its own
// prototypes, built on node's HTTP/1.1 IncomingMessage and ServerResponse; an HTTP/2 compatibility request or
// response re-parented onto them loses its own methods (url, headers, writeHead, end all read the HTTP/2 stream).
// The bridge serves HTTP/2 exchanges through the same app with Express's methods placed over node's http2
// compatibility classes instead.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Express } from 'express';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Express's own methods (its request or response prototype's own properties) over `base`. */
function over(base: object, expressProto: object, app: Express): object {
  const layer = Object.create(base, Object.getOwnPropertyDescriptors(expressProto));
  return Object.create(layer, { app: { configurable: true, enumerable: true, writable: true, value: app } });
}

/** The handler of `app` for HTTP/2 compatibility requests (`req.httpVersionMajor === 2`). */
export function http2Pages(app: Express): Handler {
  const request = over(Http2ServerRequest.prototype, Object.getPrototypeOf(app.request), app);
  const response = over(Http2ServerResponse.prototype, Object.getPrototypeOf(app.response), app);
  // node's ServerResponse has setHeaders (several at once); Http2ServerResponse has not.
  Object.defineProperty(response, 'setHeaders', {
    value(this: ServerResponse, headers: Map<string, string | string[]>) {
      for (const [name, value] of headers) this.setHeader(name, value);
      return this;
    },
  });
  // app.handle reads `request`/`response` from `this`: the same app (routes, settings) with the HTTP/2 prototypes.
  const h2app = Object.create(app, { request: { value: request }, response: { value: response } }) as Express;
  const handle = (app as unknown as { handle(this: Express, req: IncomingMessage, res: ServerResponse, next: undefined): void }).handle;
  return (req, res) => handle.call(h2app, req, res, undefined);
}
