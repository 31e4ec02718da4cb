// runtime/answer.ts — one answer for two audiences: Drawbridge's page for a browser, its JSON for everything else.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isBrowser, sendJson, sendPage } from './respond.js';

/** A page for browsers, JSON for everything else. */
export function answer(req: IncomingMessage, res: ServerResponse, status: number, page: string, json: unknown, headers: Record<string, string | string[]> = {}): void {
  if (isBrowser(req)) sendPage(res, status, page, headers);
  else sendJson(res, status, json, headers);
}
