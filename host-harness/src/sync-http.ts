/**
 * Synchronous HTTP for host_http_request. A plugin call runs synchronously on
 * the calling thread, so the request is performed with `fetch` by a
 * persistent worker thread while the caller blocks in `Atomics.wait` on a
 * SharedArrayBuffer. The worker writes `[u32 LE header length][header JSON]
 * [body bytes]` into a shared result buffer and wakes the caller; when the
 * result does not fit, it asks for a bigger buffer first.
 *
 * The calling thread's event loop does not run while it waits: a server that
 * lives on that same thread cannot answer (the request then ends with a
 * timeout). Servers the plugin talks to must run in another process or
 * worker thread.
 *
 * Limits: response bodies up to 128 MiB; timeouts clamped to 1 s..300 s
 * (default 120 s); header names or values containing CR, LF or NUL are refused.
 */
import { Worker } from 'node:worker_threads';
import type { HttpRequest, HttpResponse } from './host-types';

export const MAX_BODY_BYTES = 128 * 1024 * 1024;
export const MIN_TIMEOUT_MS = 1_000;
export const MAX_TIMEOUT_MS = 300_000;
export const DEFAULT_TIMEOUT_MS = 120_000;
/** Extra time the caller waits beyond the request timeout before giving up on the worker. */
const WAIT_GRACE_MS = 10_000;
const INITIAL_BUFFER = 1024 * 1024;

const enum State {
  Pending = 0,
  Done = 1,
  Grow = 2,
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ctrl = new Int32Array(workerData.ctrl);
let data = workerData.data;
let current = -1;
let controller = null;
let pending = null;

function deliver(seq, bytes) {
  if (bytes.byteLength > data.byteLength) {
    pending = { seq, bytes };
    Atomics.store(ctrl, 2, bytes.byteLength);
    Atomics.store(ctrl, 1, seq);
    Atomics.store(ctrl, 0, ${State.Grow});
    Atomics.notify(ctrl, 0);
    return;
  }
  new Uint8Array(data).set(bytes);
  Atomics.store(ctrl, 2, bytes.byteLength);
  Atomics.store(ctrl, 1, seq);
  Atomics.store(ctrl, 0, ${State.Done});
  Atomics.notify(ctrl, 0);
}

function encode(head, body) {
  const h = Buffer.from(JSON.stringify(head), 'utf8');
  const out = new Uint8Array(4 + h.byteLength + body.byteLength);
  new DataView(out.buffer).setUint32(0, h.byteLength, true);
  out.set(h, 4);
  out.set(body, 4 + h.byteLength);
  return out;
}

function describe(e) {
  if (!e) return 'unknown error';
  let msg = e.message || String(e);
  const cause = e.cause;
  if (cause && cause.message && !msg.includes(cause.message)) msg += ': ' + cause.message;
  return msg;
}

async function run(msg) {
  const { seq, url, method, headers, body, timeoutMs, maxBody } = msg;
  const ac = new AbortController();
  controller = ac;
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; ac.abort(); }, timeoutMs);
  let result;
  try {
    const init = { method, headers, signal: ac.signal, redirect: 'follow' };
    if (body !== null) init.body = body;
    const res = await fetch(url, init);
    const declared = Number(res.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > maxBody) {
      ac.abort();
      throw new Error('response body of ' + declared + ' bytes exceeds the limit of ' + maxBody + ' bytes');
    }
    const chunks = [];
    let total = 0;
    if (res.body) {
      for await (const chunk of res.body) {
        total += chunk.byteLength;
        if (total > maxBody) {
          ac.abort();
          throw new Error('response body exceeds the limit of ' + maxBody + ' bytes');
        }
        chunks.push(chunk);
      }
    }
    const headersOut = {};
    res.headers.forEach((v, k) => { headersOut[k] = v; });
    result = encode({ status: res.status, headers: headersOut }, Buffer.concat(chunks));
  } catch (e) {
    const text = timedOut ? 'request timed out after ' + timeoutMs + ' ms' : describe(e);
    result = encode({ status: 0, error: text }, new Uint8Array(0));
  } finally {
    clearTimeout(timer);
  }
  if (seq !== current) return;
  controller = null;
  deliver(seq, result);
}

parentPort.on('message', (msg) => {
  if (msg.type === 'request') {
    current = msg.seq;
    pending = null;
    run(msg);
  } else if (msg.type === 'buffer') {
    data = msg.data;
    if (pending && pending.seq === msg.seq) {
      const p = pending;
      pending = null;
      deliver(p.seq, p.bytes);
    }
  } else if (msg.type === 'cancel') {
    if (msg.seq === current) {
      current = -1;
      pending = null;
      if (controller) controller.abort();
      controller = null;
    }
  }
});
`;

/** A transport failure in the host_http_request shape. */
export function transportError(message: string): HttpResponse {
  return { status: 0, headers: {}, body: message, error: message };
}

/** Clamps a requested timeout to 1 s..300 s; absent or invalid -> the default. */
export function clampTimeout(ms: unknown): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return DEFAULT_TIMEOUT_MS;
  return Math.min(MAX_TIMEOUT_MS, Math.max(MIN_TIMEOUT_MS, Math.trunc(ms)));
}

interface PreparedRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | null;
  timeoutMs: number;
}

/** Validates a request; a string is the reason it is refused. */
export function prepareRequest(req: HttpRequest): PreparedRequest | string {
  if (!req || typeof req !== 'object') return 'request must be a JSON object';
  if (typeof req.url !== 'string' || req.url === '') return 'missing url';
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return `invalid url: ${req.url}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `unsupported url scheme: ${url.protocol}`;
  const method = (typeof req.method === 'string' && req.method !== '' ? req.method : 'GET').toUpperCase();
  const headers: Record<string, string> = {};
  if (req.headers !== undefined && req.headers !== null) {
    if (typeof req.headers !== 'object' || Array.isArray(req.headers)) return 'headers must be an object';
    for (const [name, raw] of Object.entries(req.headers)) {
      const value = typeof raw === 'string' ? raw : String(raw);
      if (/[\r\n\0]/.test(name)) return `invalid header name: ${JSON.stringify(name)}`;
      if (/[\r\n\0]/.test(value)) return `invalid header value for ${name}`;
      headers[name] = value;
    }
  }
  let body: Uint8Array | null = null;
  if (typeof req.body_base64 === 'string') {
    const text = req.body_base64;
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return 'invalid body_base64';
    body = Buffer.from(text, 'base64');
  } else if (typeof req.body === 'string') {
    body = Buffer.from(req.body, 'utf8');
  }
  return { url: url.toString(), method, headers, body, timeoutMs: clampTimeout(req.timeout_ms) };
}

export interface SyncHttpClientOptions {
  /** Response body limit in bytes (default 128 MiB). */
  maxBodyBytes?: number;
}

/** Blocking HTTP client backed by one persistent worker thread. */
export class SyncHttpClient {
  private worker: Worker | null = null;
  private ctrl: Int32Array;
  private data: SharedArrayBuffer;
  private seq = 0;
  private readonly maxBodyBytes: number;

  constructor(options: SyncHttpClientOptions = {}) {
    this.maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
    this.ctrl = new Int32Array(new SharedArrayBuffer(16));
    this.data = new SharedArrayBuffer(INITIAL_BUFFER);
  }

  /** Current size of the shared result buffer (grows with the largest response seen). */
  get bufferBytes(): number {
    return this.data.byteLength;
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    // A fresh control block: a previous worker may still hold the old one.
    this.ctrl = new Int32Array(new SharedArrayBuffer(16));
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ctrl: this.ctrl.buffer, data: this.data } });
    worker.unref();
    worker.on('error', () => {
      if (this.worker === worker) this.worker = null;
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = null;
    });
    this.worker = worker;
    return worker;
  }

  /** Performs one request, blocking the calling thread until it completes. Never throws. */
  request(req: HttpRequest): HttpResponse {
    const prepared = prepareRequest(req);
    if (typeof prepared === 'string') return transportError(prepared);
    const worker = this.ensureWorker();
    this.seq = (this.seq + 1) & 0x3fffffff;
    const seq = this.seq;
    Atomics.store(this.ctrl, 0, State.Pending);
    worker.postMessage({
      type: 'request',
      seq,
      url: prepared.url,
      method: prepared.method,
      headers: prepared.headers,
      body: prepared.body,
      timeoutMs: prepared.timeoutMs,
      maxBody: this.maxBodyBytes,
    });
    const deadline = Date.now() + prepared.timeoutMs + WAIT_GRACE_MS;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        worker.postMessage({ type: 'cancel', seq });
        return transportError(`request timed out after ${prepared.timeoutMs} ms (no answer from the HTTP worker)`);
      }
      Atomics.wait(this.ctrl, 0, State.Pending, remaining);
      const state = Atomics.load(this.ctrl, 0);
      if (state === State.Pending) continue;
      if (Atomics.load(this.ctrl, 1) !== seq) {
        // A late answer to an abandoned request.
        Atomics.store(this.ctrl, 0, State.Pending);
        continue;
      }
      if (state === State.Grow) {
        const needed = Atomics.load(this.ctrl, 2);
        let size = this.data.byteLength;
        while (size < needed) size *= 2;
        this.data = new SharedArrayBuffer(size);
        Atomics.store(this.ctrl, 0, State.Pending);
        worker.postMessage({ type: 'buffer', seq, data: this.data });
        continue;
      }
      return this.decode(Atomics.load(this.ctrl, 2));
    }
  }

  private decode(length: number): HttpResponse {
    const bytes = new Uint8Array(this.data, 0, length);
    const headLen = new DataView(this.data, 0, 4).getUint32(0, true);
    const head = JSON.parse(Buffer.from(bytes.subarray(4, 4 + headLen)).toString('utf8')) as {
      status: number;
      headers?: Record<string, string>;
      error?: string;
    };
    if (head.status === 0) return transportError(head.error ?? 'request failed');
    const body = Buffer.from(bytes.subarray(4 + headLen));
    return {
      status: head.status,
      headers: head.headers ?? {},
      body: new TextDecoder('utf-8').decode(body),
      body_base64: body.toString('base64'),
    };
  }

  /** Stops the worker thread; a later request starts a new one. */
  close(): void {
    const worker = this.worker;
    this.worker = null;
    if (worker) void worker.terminate();
  }
}

let shared: SyncHttpClient | null = null;

/** Blocking request through a process-wide client (its worker starts on first use). */
export function syncHttpRequest(req: HttpRequest): HttpResponse {
  shared ??= new SyncHttpClient();
  return shared.request(req);
}

/** Stops the process-wide client's worker, if any. */
export function closeSharedHttpClient(): void {
  shared?.close();
  shared = null;
}
