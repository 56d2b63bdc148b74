/*
 * The @extism/js-pdk global API, built on the native `__ext` object of
 * extism_runtime.c. Evaluated once, before the plugin bundle, at
 * pre-initialisation time: it must not call the host or read randomness.
 */
(function () {
  'use strict';
  const ext = globalThis.__ext;

  // Views are passed to the runtime as (ArrayBuffer, byteOffset, byteLength).
  function bytesArgs(value) {
    if (value instanceof ArrayBuffer) return [value, 0, value.byteLength];
    if (ArrayBuffer.isView(value)) return [value.buffer, value.byteOffset, value.byteLength];
    throw new TypeError('expected an ArrayBuffer or a typed array');
  }

  function store(value) {
    if (typeof value === 'string') return ext.memAlloc(value);
    const [buf, off, len] = bytesArgs(value);
    return ext.memAlloc(buf, off, len);
  }

  class MemoryHandle {
    constructor(offset, len) {
      this.offset = BigInt(offset);
      this.len = BigInt(len);
    }
    readString() { return ext.memReadString(this.offset); }
    readBytes() { return ext.memRead(this.offset); }
    readJsonObject() { return JSON.parse(this.readString()); }
    readUInt32() { return new DataView(this.readBytes()).getUint32(0, true); }
    readUInt64() { return new DataView(this.readBytes()).getBigUint64(0, true); }
    readFloat32() { return new DataView(this.readBytes()).getFloat32(0, true); }
    readUFloat64() { return new DataView(this.readBytes()).getFloat64(0, true); }
    free() { ext.memFree(this.offset); }
  }

  function handle(offset) {
    const off = BigInt(offset);
    return new MemoryHandle(off, off === 0n ? 0n : ext.memLength(off));
  }

  function scalar(size, write) {
    const buf = new ArrayBuffer(size);
    write(new DataView(buf));
    return handle(store(buf));
  }

  const Memory = {
    fromString(str) { return handle(store(String(str))); },
    fromBuffer(bytes) { return handle(store(bytes)); },
    fromJsonObject(obj) { return handle(store(JSON.stringify(obj))); },
    allocUInt32(i) { return scalar(4, (v) => v.setUint32(0, i, true)); },
    allocUInt64(i) { return scalar(8, (v) => v.setBigUint64(0, BigInt(i), true)); },
    allocFloat32(i) { return scalar(4, (v) => v.setFloat32(0, i, true)); },
    allocFloat64(i) { return scalar(8, (v) => v.setFloat64(0, i, true)); },
    find(offset) { return handle(offset); },
    _fromBuffer(buffer) { const h = handle(store(buffer)); return { offset: h.offset, len: h.len }; },
    _find(offset) { const h = handle(offset); return { offset: h.offset, len: h.len }; },
    _free(offset) { ext.memFree(offset); },
    _readBytes(offset) { return ext.memRead(offset); },
  };

  // Host functions, by name, in the order of the generated import table.
  // Built on first use: the names are known only once the runtime is linked.
  let hostFunctions = null;
  function getFunctions() {
    if (hostFunctions === null) {
      hostFunctions = {};
      ext.hostNames().forEach((name, index) => {
        hostFunctions[name] = (offset) => ext.callHost(index, offset);
      });
    }
    return hostFunctions;
  }

  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

  const Host = {
    inputBytes() { return ext.inputBytes(); },
    inputString() { return ext.inputString(); },
    outputBytes(output) {
      const [buf, off, len] = bytesArgs(output);
      return ext.output(buf, off, len);
    },
    outputString(output) { return ext.output(String(output)); },
    getFunctions,
    invokeFunc(id, offset) { return ext.callHost(id, offset); },
    invokeFunc0(id, offset) { ext.callHost(id, offset); },
    arrayBufferToBase64(input) {
      const bytes = new Uint8Array(input);
      let out = '';
      let i = 0;
      for (; i + 2 < bytes.length; i += 3) {
        const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
        out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
      }
      if (i < bytes.length) {
        const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8);
        out += B64[n >> 18] + B64[(n >> 12) & 63];
        out += i + 1 < bytes.length ? B64[(n >> 6) & 63] + '=' : '==';
      }
      return out;
    },
    base64ToArrayBuffer(input) {
      const clean = String(input).replace(/=+$/, '');
      if (/[^A-Za-z0-9+/]/.test(clean) || clean.length % 4 === 1) throw new TypeError('invalid base64');
      const out = new Uint8Array((clean.length * 3) >> 2);
      let bits = 0;
      let acc = 0;
      let o = 0;
      for (let i = 0; i < clean.length; i++) {
        acc = (acc << 6) | B64.indexOf(clean[i]);
        bits += 6;
        if (bits >= 8) {
          bits -= 8;
          out[o++] = (acc >> bits) & 255;
        }
      }
      return out.buffer;
    },
  };

  const Var = {
    set(name, value) {
      if (typeof value === 'string') ext.varSet(String(name), value);
      else {
        const [buf, off, len] = bytesArgs(value);
        ext.varSet(String(name), buf, off, len);
      }
    },
    getBytes(name) { return ext.varGet(String(name)); },
    getString(name) {
      const bytes = ext.varGet(String(name));
      return bytes === null ? null : ext.utf8Decode(bytes, 0, bytes.byteLength, false);
    },
  };

  const Config = {
    get(key) { return ext.configGet(String(key)); },
  };

  function format(args) {
    return args.map((a) => {
      if (typeof a === 'string') return a;
      if (a instanceof Error) return a.stack ? `${a.name}: ${a.message}\n${a.stack}` : `${a.name}: ${a.message}`;
      try { return typeof a === 'object' && a !== null ? JSON.stringify(a) : String(a); } catch (_) { return String(a); }
    }).join(' ');
  }
  const console = {
    debug: (...args) => ext.log(0, format(args)),
    trace: (...args) => ext.log(0, format(args)),
    log: (...args) => ext.log(1, format(args)),
    info: (...args) => ext.log(1, format(args)),
    warn: (...args) => ext.log(2, format(args)),
    error: (...args) => ext.log(3, format(args)),
  };

  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(input = '') { return new Uint8Array(ext.utf8Encode(String(input))); }
    encodeInto(input, dest) {
      const bytes = this.encode(input);
      // Never split a code point: shorten to the last complete sequence.
      let written = Math.min(bytes.length, dest.length);
      while (written > 0 && written < bytes.length && (bytes[written] & 0xc0) === 0x80) written--;
      dest.set(bytes.subarray(0, written));
      const read = ext.utf8Decode(bytes.buffer, 0, written, false).length;
      return { read, written };
    }
  }

  class TextDecoder {
    constructor(label = 'utf-8', options = {}) {
      const l = String(label).toLowerCase();
      if (l !== 'utf-8' && l !== 'utf8' && l !== 'unicode-1-1-utf-8') {
        throw new RangeError(`TextDecoder: unsupported encoding ${label}`);
      }
      this.fatal = Boolean(options.fatal);
      this.ignoreBOM = Boolean(options.ignoreBOM);
    }
    get encoding() { return 'utf-8'; }
    decode(input) {
      if (input === undefined) return '';
      let [buf, off, len] = bytesArgs(input);
      if (!this.ignoreBOM && len >= 3) {
        const head = new Uint8Array(buf, off, 3);
        if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) { off += 3; len -= 3; }
      }
      return ext.utf8Decode(buf, off, len, this.fatal);
    }
  }

  const crypto = {
    getRandomValues(array) {
      if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array) {
        throw new TypeError('getRandomValues: expected an integer typed array');
      }
      if (array.byteLength > 65536) throw new RangeError('getRandomValues: more than 65536 bytes requested');
      ext.randomFill(array.buffer, array.byteOffset, array.byteLength);
      return array;
    },
  };

  const define = (name, value) =>
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  define('Host', Host);
  define('Memory', Memory);
  define('MemoryHandle', MemoryHandle);
  define('Var', Var);
  define('Config', Config);
  define('console', console);
  define('TextEncoder', TextEncoder);
  define('TextDecoder', TextDecoder);
  define('crypto', crypto);
  // Native base64 (not part of the js-pdk API): common/src/base64.ts uses it when present.
  define('__nativeBase64', {
    encode: (bytes) => ext.base64Encode(...bytesArgs(bytes)),
    decode: (text) => {
      const buf = ext.base64Decode(String(text));
      return buf === null ? null : new Uint8Array(buf);
    },
  });
  define('queueMicrotask', (fn) => { Promise.resolve().then(fn); });
})();
