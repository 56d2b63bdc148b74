/**
 * CORS for the HTTP API. Browsers call it with `credentials: 'include'`, which
 * forbids `Access-Control-Allow-Origin: *`: an allowed origin is echoed back
 * with `Access-Control-Allow-Credentials: true`. Allowed are the request's own
 * origin (same host, as named by the Host header) and the configured list
 * (`corsOrigins`, `*` = any). Every answer varies by Origin, so caches keep
 * one copy per origin.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const ALLOW_HEADERS = 'Authorization, Content-Type';
/** Every method of the API: PUT stores key records and attachment parts. */
const ALLOW_METHODS = 'GET, HEAD, POST, PUT, OPTIONS';
/** How long a browser may cache a preflight answer. */
const PREFLIGHT_MAX_AGE_S = 600;

/** Whether `origin` may read answers of this server. */
export function isOriginAllowed(origin: string, host: string | undefined, allowed: readonly string[]): boolean {
  const o = origin.toLowerCase();
  if (allowed.includes('*') || allowed.includes(o)) return true;
  // Same origin: the page was served by this host (scheme either way: a proxy may terminate TLS).
  return host !== undefined && (o === `http://${host.toLowerCase()}` || o === `https://${host.toLowerCase()}`);
}

/** Sets the CORS headers of an answer; for a preflight, also the allowed methods and headers. */
export function applyCors(req: IncomingMessage, res: ServerResponse, allowed: readonly string[]): void {
  res.setHeader('Vary', 'Origin');
  const origin = req.headers.origin;
  if (typeof origin !== 'string' || !isOriginAllowed(origin, req.headers.host, allowed)) return;
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Access-Control-Allow-Credentials', 'true');
  if (req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Allow-Headers', ALLOW_HEADERS);
    res.setHeader('Access-Control-Allow-Methods', ALLOW_METHODS);
    res.setHeader('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_S));
  }
}
