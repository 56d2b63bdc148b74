/**
 * Parsing of HTTP request targets. Node's parser lets through targets that the
 * WHATWG URL parser refuses (`//[`, `http://[`, `http://:99999/`); they must
 * become a 400 (or a destroyed upgrade socket), never an exception outside a
 * handler.
 */

/** Base for origin-form targets; only the path and query of the result are used. */
const BASE = 'http://localhost';

/** The parsed request target, or null when it is not a usable URL. */
export function parseRequestTarget(target: string | undefined): URL | null {
  const raw = target ?? '/';
  // Origin-form (`/path?q`) or absolute-form (`http://host/path`); anything else
  // (authority-form, `*`) names no route of this server.
  if (!raw.startsWith('/') && !/^https?:\/\//i.test(raw)) return null;
  try {
    // `//x` would be read as a scheme-relative URL with host x: keep it a path.
    return new URL(raw.startsWith('//') ? `${BASE}${raw}` : raw, BASE);
  } catch {
    return null;
  }
}
