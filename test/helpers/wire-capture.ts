/**
 * Turns the bytes a recording proxy kept (counting-proxy.ts) into what a
 * reader of the traffic sees: each HTTP/1.1 message's head and body (chunked
 * transfer undone, gzip/deflate/br content undone, zip and gzip bodies
 * opened), and each WebSocket message's payload, unmasked. Client frames are
 * masked with a random key per frame, so a secret a device sends never shows
 * in the raw client bytes: searching those alone would miss it.
 *
 * The raw bytes of each direction are sources too. Anything the decoder
 * cannot read (a compressed WebSocket frame, a content coding it does not
 * know, malformed framing) throws with the connection and offset: a capture
 * that is silently partial would let a leak through.
 */
import zlib from 'node:zlib';
import { unzipSync } from 'fflate';
import type { RecordedConnection } from './counting-proxy';
import type { ScanSource } from './leak-scanner';

/** Every source of every connection. */
export function trafficSources(connections: readonly RecordedConnection[]): ScanSource[] {
  return connections.flatMap(connectionSources);
}

/** The raw bytes of both directions of one connection, and each decoded HTTP and WebSocket message. */
export function connectionSources(conn: RecordedConnection): ScanSource[] {
  const up = Buffer.concat(conn.toServer);
  const down = Buffer.concat(conn.toClient);
  const name = `conn ${conn.id}`;
  const out: ScanSource[] = [
    { name: `${name} to server (raw)`, bytes: up },
    { name: `${name} to client (raw)`, bytes: down },
  ];
  const requests = readHttp(up, 'request', `${name} to server`, [], out);
  readHttp(down, 'response', `${name} to client`, requests.methods, out, requests.upgradeAt !== null);
  return out;
}

interface HttpRead {
  methods: string[];
  /** Where the bytes after an upgrade start (WebSocket frames), null without one. */
  upgradeAt: number | null;
}

class CaptureError extends Error {
  override name = 'CaptureError';
}

/**
 * Reads HTTP/1.1 messages from `buf` (requests or responses), adding a source
 * per head and body; after an upgrade, the rest is read as WebSocket frames.
 */
function readHttp(buf: Buffer, kind: 'request' | 'response', where: string, methods: string[], out: ScanSource[], upgraded = false): HttpRead {
  const seen: string[] = [];
  let pos = 0;
  let index = 0;
  while (pos < buf.length) {
    const headEnd = buf.indexOf('\r\n\r\n', pos);
    if (headEnd === -1) {
      out.push({ name: `${where} incomplete head at ${pos}`, bytes: buf.subarray(pos) });
      return { methods: seen, upgradeAt: null };
    }
    const head = buf.subarray(pos, headEnd).toString('latin1');
    const [start, ...lines] = head.split('\r\n');
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new CaptureError(`${where}: header line without a name at ${pos}: ${JSON.stringify(line.slice(0, 80))}`);
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const label = `${where} #${index} ${start.slice(0, 80)}`;
    out.push({ name: `${label} (head)`, bytes: buf.subarray(pos, headEnd) });
    pos = headEnd + 4;
    let status = 0;
    if (kind === 'request') {
      seen.push(start.split(' ')[0]);
      if ((headers.get('upgrade') ?? '').toLowerCase() === 'websocket') {
        readWebSocket(buf.subarray(pos), `${where} ws`, out);
        return { methods: seen, upgradeAt: pos };
      }
    } else {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(start);
      if (!m) throw new CaptureError(`${where}: not an HTTP/1.1 status line at ${headEnd}: ${JSON.stringify(start.slice(0, 80))}`);
      status = Number(m[1]);
      if (status === 101) {
        if (!upgraded) throw new CaptureError(`${where}: 101 without an upgrade request`);
        readWebSocket(buf.subarray(pos), `${where} ws`, out);
        return { methods: seen, upgradeAt: pos };
      }
    }
    const noBody = kind === 'response' && (status < 200 || status === 204 || status === 304 || methods[index] === 'HEAD');
    let body: Buffer;
    if (noBody) body = Buffer.alloc(0);
    else if ((headers.get('transfer-encoding') ?? '').toLowerCase().includes('chunked')) {
      const chunked = readChunked(buf, pos, label);
      body = chunked.body;
      pos = chunked.end;
    } else if (headers.has('content-length')) {
      const length = Number(headers.get('content-length'));
      if (!Number.isInteger(length) || length < 0) throw new CaptureError(`${label}: bad content-length ${headers.get('content-length')}`);
      body = buf.subarray(pos, pos + length);
      pos += body.length;
    } else if (kind === 'response') {
      body = buf.subarray(pos);
      pos = buf.length;
    } else body = Buffer.alloc(0);
    if (body.length > 0) addBody(body, headers.get('content-encoding'), label, out);
    index++;
  }
  return { methods: seen, upgradeAt: null };
}

function readChunked(buf: Buffer, start: number, label: string): { body: Buffer; end: number } {
  const parts: Buffer[] = [];
  let pos = start;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', pos);
    // A body cut off by a closed connection: keep what came.
    if (lineEnd === -1) return { body: Buffer.concat(parts), end: buf.length };
    const size = parseInt(buf.subarray(pos, lineEnd).toString('latin1').split(';')[0], 16);
    if (!Number.isInteger(size) || size < 0) throw new CaptureError(`${label}: bad chunk size at ${pos}`);
    pos = lineEnd + 2;
    if (size === 0) {
      // Trailers, then an empty line.
      const end = buf.indexOf('\r\n\r\n', pos - 2);
      return { body: Buffer.concat(parts), end: end === -1 ? buf.length : end + 4 };
    }
    parts.push(buf.subarray(pos, pos + size));
    pos += size + 2;
    if (pos > buf.length) return { body: Buffer.concat(parts), end: buf.length };
  }
}

function addBody(body: Buffer, coding: string | undefined, label: string, out: ScanSource[]): void {
  out.push({ name: `${label} (body)`, bytes: body });
  const c = (coding ?? 'identity').toLowerCase();
  let decoded: Buffer | null = null;
  if (c === 'gzip' || c === 'x-gzip') decoded = zlib.gunzipSync(body);
  else if (c === 'deflate') decoded = zlib.inflateSync(body);
  else if (c === 'br') decoded = zlib.brotliDecompressSync(body);
  else if (c !== 'identity') throw new CaptureError(`${label}: unknown content-encoding ${c}`);
  if (decoded) out.push({ name: `${label} (body, ${c} undone)`, bytes: decoded });
  out.push(...openContainer(decoded ?? body, label));
}

/** The members of a zip, or the content of a gzip stream (each opened again); nothing for other bytes. */
export function openContainer(bytes: Uint8Array, label: string): ScanSource[] {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) {
    let members: Record<string, Uint8Array>;
    try {
      members = unzipSync(bytes);
    } catch (e) {
      throw new CaptureError(`${label}: a zip that does not open: ${(e as Error).message}`);
    }
    return Object.entries(members).flatMap(([name, data]) => [{ name: `${label} zip member ${name}`, bytes: data }, ...openContainer(data, `${label} zip member ${name}`)]);
  }
  if (bytes.length >= 3 && bytes[0] === 0x1f && bytes[1] === 0x8b && bytes[2] === 0x08) {
    const data = zlib.gunzipSync(bytes);
    return [{ name: `${label} gunzipped`, bytes: data }, ...openContainer(data, `${label} gunzipped`)];
  }
  return [];
}

const OPCODES: Record<number, string> = { 0x1: 'text', 0x2: 'binary', 0x8: 'close', 0x9: 'ping', 0xa: 'pong' };

/** Adds each WebSocket message (fragments joined, client masks undone) as a source. */
export function readWebSocket(buf: Buffer, where: string, out: ScanSource[]): void {
  let pos = 0;
  let n = 0;
  let fragments: Buffer[] = [];
  let fragmentType = '';
  while (pos < buf.length) {
    const frameAt = pos;
    if (buf.length - pos < 2) break;
    const b0 = buf[pos];
    const b1 = buf[pos + 1];
    pos += 2;
    const fin = (b0 & 0x80) !== 0;
    if (b0 & 0x70) throw new CaptureError(`${where}: frame at ${frameAt} sets RSV bits 0x${(b0 & 0x70).toString(16)} (compressed): the capture cannot read it`);
    const opcode = b0 & 0x0f;
    let length = b1 & 0x7f;
    if (length === 126) {
      if (buf.length - pos < 2) break;
      length = buf.readUInt16BE(pos);
      pos += 2;
    } else if (length === 127) {
      if (buf.length - pos < 8) break;
      length = Number(buf.readBigUInt64BE(pos));
      pos += 8;
    }
    let mask: Buffer | null = null;
    if (b1 & 0x80) {
      if (buf.length - pos < 4) break;
      mask = buf.subarray(pos, pos + 4);
      pos += 4;
    }
    const payload = Buffer.from(buf.subarray(pos, pos + length));
    pos += payload.length;
    if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    const type = OPCODES[opcode];
    if (opcode === 0) {
      if (fragmentType === '') throw new CaptureError(`${where}: continuation frame at ${frameAt} without a first fragment`);
      fragments.push(payload);
    } else if (type === undefined) {
      throw new CaptureError(`${where}: unknown opcode ${opcode} at ${frameAt}`);
    } else if (opcode >= 0x8) {
      out.push({ name: `${where} ${type} at ${frameAt}`, bytes: payload });
      continue;
    } else {
      fragments = [payload];
      fragmentType = type;
    }
    if (fin || pos >= buf.length) {
      out.push({ name: `${where} message ${n++} (${fragmentType}) ending at ${frameAt}`, bytes: Buffer.concat(fragments) });
      fragments = [];
      fragmentType = '';
    }
  }
}
