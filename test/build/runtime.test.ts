/**
 * The QuickJS Extism runtime, through a built .wasm (the probe fixture) loaded
 * with @extism/extism: byte and string round trips, host functions, errors,
 * recursion and memory limits, Var/Config, and randomness after Wizer.
 */
import createPlugin, { type Plugin } from '@extism/extism';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64 } from '../../common/src/base64';
import { BASE64_PROBES } from '../fixtures/probe/base64-probes';
import { PROBE_NOWIZER_WASM, PROBE_WASM } from '../helpers/paths';

const seenByHost: string[] = [];

async function load(file: string, config: Record<string, string> = {}): Promise<Plugin> {
  return createPlugin(
    { wasm: [{ data: fs.readFileSync(file) }] },
    {
      useWasi: true,
      config,
      logger: { debug() {}, info() {}, warn() {}, error() {}, trace() {} } as unknown as Console,
      functions: {
        'extism:host/user': {
          probe_upper(cp: { read(a: bigint): { text(): string } | null; store(s: string): bigint }, addr: bigint) {
            const input = cp.read(addr)?.text() ?? '';
            seenByHost.push(input);
            return cp.store(`${input.toUpperCase()}|${input.length}`);
          },
        },
      },
    },
  );
}

function pattern(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 131 + (i >> 8)) & 255;
  return out;
}

describe.each([
  ['pre-initialised', PROBE_WASM],
  ['not pre-initialised', PROBE_NOWIZER_WASM],
])('runtime (%s)', (_label, file) => {
  let plugin: Plugin;
  beforeAll(async () => {
    plugin = await load(file, { who: 'vitest', js_memory_limit_mb: '64' });
  });
  afterAll(async () => plugin?.close());

  it.each([0, 1, 64 * 1024, 8 * 1024 * 1024])('round-trips %i binary bytes unchanged', async (size) => {
    const input = pattern(size);
    const out = await plugin.call('echo', input);
    const got = out === null ? new Uint8Array(0) : new Uint8Array(out.bytes());
    expect(got.length).toBe(size);
    // Buffer.compare: element-wise deep equality is far too slow for 8 MiB.
    expect(Buffer.compare(Buffer.from(got), Buffer.from(input))).toBe(0);
  });

  it.each(['', 'a', 'héllo wörld €', '😀 non-BMP 𝄞 and 中文', 'x'.repeat(64 * 1024)])('round-trips UTF-8 %#', async (s) => {
    expect((await plugin.call('echoString', s))?.text() ?? '').toBe(s);
    expect((await plugin.call('utf8RoundTrip', s))?.text() ?? '').toBe(s);
  });

  it.each([0, 1, 2, 3, 100, 64 * 1024 + 1])('encodes and decodes %i bytes of base64 like the JavaScript codec', async (size) => {
    const input = pattern(size);
    const got = JSON.parse((await plugin.call('base64', input))?.text() ?? '') as { encoded: string; back: string; decoded: string[] };
    expect(got.encoded).toBe(Buffer.from(input).toString('base64'));
    expect(got.back).toBe(got.encoded);
    const expected = BASE64_PROBES.map((t) => {
      try {
        return Array.from(decodeBase64(t)).join(',');
      } catch (e) {
        return (e as Error).message;
      }
    });
    expect(got.decoded).toEqual(expected);
  });

  it('round-trips 8 MiB of UTF-8 text with non-BMP characters', async () => {
    const s = '😀ab€'.repeat((8 * 1024 * 1024) / 9);
    expect((await plugin.call('echoString', s))?.text()).toBe(s);
  });

  it('passes the exact string to a host function and returns its answer', async () => {
    const input = 'abc é 😀 {"json":true}';
    seenByHost.length = 0;
    const out = await plugin.call('callUpper', input);
    expect(seenByHost).toEqual([input]);
    expect(out?.text()).toBe(`${input.toUpperCase()}|${input.length}`);
  });

  it('turns exceptions into Extism errors and stays usable', async () => {
    await expect(plugin.call('throwError', 'first')).rejects.toThrow(/boom: first/);
    await expect(plugin.call('throwTypeError')).rejects.toThrow(/TypeError: not a function/);
    await expect(plugin.call('rejectAsync')).rejects.toThrow(/async boom/);
    expect((await plugin.call('echoString', 'still alive'))?.text()).toBe('still alive');
  });

  it('reports runaway recursion as an error, not a crash', async () => {
    expect((await plugin.call('recurse', '500'))?.text()).toBe('500');
    await expect(plugin.call('recurse', '1000000')).rejects.toThrow(/stack overflow/);
    expect((await plugin.call('recurse', '200'))?.text()).toBe('200');
  });

  it('reports exhausted memory as an error and recovers', async () => {
    await expect(plugin.call('allocate')).rejects.toThrow(/out of memory/);
    expect((await plugin.call('echoString', 'after oom'))?.text()).toBe('after oom');
  });

  it('keeps Var, Config and JS globals across calls', async () => {
    const first = JSON.parse((await plugin.call('counter'))!.text());
    const second = JSON.parse((await plugin.call('counter'))!.text());
    expect(second.calls).toBe(first.calls + 1);
    expect(second.stored).toBe(first.stored + 1);
    expect(second.who).toBe('vitest');
    expect(second.missing).toBeNull();
    const bytes = pattern(100);
    expect(new Uint8Array((await plugin.call('varBytes', bytes))!.bytes())).toEqual(bytes);
    expect(new Uint8Array((await plugin.call('varBytes', new Uint8Array(0)))!.bytes())).toEqual(bytes);
  });

  it('runs Yjs', async () => {
    const out = JSON.parse((await plugin.call('yjsEdits', '300'))!.text());
    expect(out.length).toBe(300);
    expect(out.bytes).toBeGreaterThan(300);
  });
});

describe('randomness after pre-initialisation', () => {
  it('gives two instances different Math.random sequences and Yjs client ids', async () => {
    const a = await load(PROBE_WASM);
    const b = await load(PROBE_WASM);
    try {
      const ra = JSON.parse((await a.call('randomness'))!.text());
      const rb = JSON.parse((await b.call('randomness'))!.text());
      expect(ra.random).not.toEqual(rb.random);
      expect(ra.clientID).not.toBe(rb.clientID);
      expect(ra.bytes).not.toEqual(rb.bytes);
      // Later calls in the same instance keep producing new values.
      const ra2 = JSON.parse((await a.call('randomness'))!.text());
      expect(ra2.random).not.toEqual(ra.random);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
