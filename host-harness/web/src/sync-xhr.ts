/**
 * host_http_request in the page: the plugin's host functions are synchronous,
 * so HTTP goes through a synchronous XMLHttpRequest. Response bytes are read
 * through the `x-user-defined` charset (sync requests cannot ask for an
 * ArrayBuffer) and returned both as text and as base64. A transport failure
 * is `status: 0` with `error`, as in the Node harness.
 */
import { decodeBase64, encodeBase64 } from '../../../common/src/base64';

import type { HttpRequest, HttpResponse } from '../../../common/src/host-json';

export type { HttpRequest, HttpResponse };

/** Headers a page may not set (the browser sets them itself). */
const FORBIDDEN = new Set(['content-length', 'host', 'connection', 'accept-encoding', 'user-agent', 'origin', 'referer']);

function parseHeaders(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of raw.trim().split(/[\r\n]+/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

export function syncXhr(req: HttpRequest): HttpResponse {
  const fail = (error: string): HttpResponse => ({ status: 0, headers: {}, body: error, error });
  const xhr = new XMLHttpRequest();
  try {
    xhr.open(req.method || 'GET', req.url, false);
    xhr.overrideMimeType('text/plain; charset=x-user-defined');
    for (const [name, value] of Object.entries(req.headers ?? {})) {
      if (!FORBIDDEN.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    if (req.body_base64 !== undefined) xhr.send(decodeBase64(req.body_base64) as Uint8Array<ArrayBuffer>);
    else if (req.body !== undefined) xhr.send(req.body);
    else xhr.send();
  } catch (e) {
    return fail(`${req.method} ${req.url}: ${(e as Error).message || 'network error'}`);
  }
  if (xhr.status === 0) return fail(`${req.method} ${req.url}: network error`);
  const raw = xhr.responseText;
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i) & 0xff;
  return {
    status: xhr.status,
    headers: parseHeaders(xhr.getAllResponseHeaders()),
    body: new TextDecoder().decode(bytes),
    body_base64: encodeBase64(bytes),
  };
}
