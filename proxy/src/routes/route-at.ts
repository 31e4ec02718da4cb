// routes/route-at.ts — the route a URL Drawbridge itself produced leads to (a sign-in's return target), so that a
// page about that request can name the route by its title.
import type { Route, RouteTable } from './compile.js';

/**
 * The route that serves a GET of this absolute http(s) URL, or undefined (unparsable, another scheme, no route,
 * or a method refusal). For pages only: never a decision, which always comes from the request's own match.
 */
export function routeAt(table: RouteTable, url: string): Route | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
  const port = parsed.port === '' ? undefined : Number(parsed.port);
  const hostname = parsed.hostname.startsWith('[') ? parsed.hostname : parsed.hostname.toLowerCase();
  const m = table.match(hostname, port, parsed.pathname, 'GET');
  return 'status' in m ? undefined : m;
}

/** A route as Drawbridge's pages name it (views.ts PageRoute): its name, and its title when it has one. */
export function pageRoute(route: Route): { name: string; title?: string } {
  return route.config.title === undefined ? { name: route.name } : { name: route.name, title: route.config.title };
}
