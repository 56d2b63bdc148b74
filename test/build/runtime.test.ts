/**
 * The QuickJS Extism runtime, through a built .wasm (the probe fixture) on the
 * engine DIARYX_ENGINE names (vitest.config.ts runs this file on every
 * engine): byte and string round trips, host functions, errors, recursion and
 * memory limits, Var/Config, randomness after Wizer, empty values in every
 * direction, and recovery after calls a trap aborted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64 } from '../../common/src/base64';
import { engineFromEnv, HostTrap } from '../../host-harness/src/engines/engine';
import { PluginCallError, PluginHost } from '../../host-harness/src/plugin-host';
import { BASE64_PROBES } from '../fixtures/probe/base64-probes';
import { PROBE_NOWIZER_WASM, PROBE_WASM } from '../helpers/paths';

const ENGINE = engineFromEnv();
const seenByHost: string[] = [];

interface Output {
  bytes(): Uint8Array;
  text(): string;
}

/** The probe on a PluginHost, with the call surface of an Extism plugin. */
interface Probe {
  host: PluginHost;
  call(name: string, input?: string | Uint8Array): Promise<Output>;
  close(): Promise<void>;
}

async function load(file: string, config: Record<string, string> = {}): Promise<Probe> {
  const host = await PluginHost.load({
    wasm: file,
    engine: ENGINE,
    config,
    // Var must survive between calls (JS SDK 1.0.3 drops vars on reset).
    resetMemory: false,
    functions: {
      probe_upper(input: string): string {
        seenByHost.push(input);
        if (input.startsWith('trap:')) throw new HostTrap(`probe_upper refused ${input}`);
        return input === '' ? '' : `${input.toUpperCase()}|${input.length}`;
      },
    },
  });
  return {
    host,
    async call(name, input = '') {
      const out = await host.callRaw(name, input);
      return { bytes: () => out, text: () => new TextDecoder().decode(out) };
    },
    close: () => host.dispose(),
  };
}

function pattern(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 131 + (i >> 8)) & 255;
  return out;
}

describe.each([
  ['pre-initialised', PROBE_WASM],
  ['not pre-initialised', PROBE_NOWIZER_WASM],
])(`runtime on ${ENGINE} (%s)`, (_label, file) => {
  let plugin: Probe;
  beforeAll(async () => {
    plugin = await load(file, { who: 'vitest', js_memory_limit_mb: '64' });
  });
  afterAll(async () => plugin?.close());

  it.each([0, 1, 64 * 1024, 8 * 1024 * 1024])('round-trips %i binary bytes unchanged', async (size) => {
    const input = pattern(size);
    const out = await plugin.call('echo', input);
    const got = out.bytes();
    expect(got.length).toBe(size);
    // Buffer.compare: element-wise deep equality is far too slow for 8 MiB.
    expect(Buffer.compare(Buffer.from(got), Buffer.from(input))).toBe(0);
  });

  it.each(['', 'a', 'héllo wörld €', '😀 non-BMP 𝄞 and 中文', 'x'.repeat(64 * 1024)])('round-trips UTF-8 %#', async (s) => {
    expect((await plugin.call('echoString', s)).text()).toBe(s);
    expect((await plugin.call('utf8RoundTrip', s)).text()).toBe(s);
  });

  it.each([0, 1, 2, 3, 100, 64 * 1024 + 1])('encodes and decodes %i bytes of base64 like the JavaScript codec', async (size) => {
    const input = pattern(size);
    const got = JSON.parse((await plugin.call('base64', input)).text()) as { encoded: string; back: string; decoded: string[] };
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
    expect((await plugin.call('echoString', s)).text()).toBe(s);
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
    expect((await plugin.call('echoString', 'still alive')).text()).toBe('still alive');
  });

  it('reports runaway recursion as an error, not a crash', async () => {
    expect((await plugin.call('recurse', '500')).text()).toBe('500');
    await expect(plugin.call('recurse', '1000000')).rejects.toThrow(/stack overflow/);
    expect((await plugin.call('recurse', '200')).text()).toBe('200');
  });

  it('reports exhausted memory as an error and recovers', async () => {
    await expect(plugin.call('allocate')).rejects.toThrow(/out of memory/);
    expect((await plugin.call('echoString', 'after oom')).text()).toBe('after oom');
  });

  it('keeps Var, Config and JS globals across calls', async () => {
    const first = JSON.parse((await plugin.call('counter')).text());
    const second = JSON.parse((await plugin.call('counter')).text());
    expect(second.calls).toBe(first.calls + 1);
    expect(second.stored).toBe(first.stored + 1);
    expect(second.who).toBe('vitest');
    expect(second.missing).toBeNull();
    const bytes = pattern(100);
    expect(new Uint8Array((await plugin.call('varBytes', bytes)).bytes())).toEqual(bytes);
    expect(new Uint8Array((await plugin.call('varBytes', new Uint8Array(0))).bytes())).toEqual(bytes);
  });

  it('passes empty values in every direction as empty', async () => {
    seenByHost.length = 0;
    expect((await plugin.call('empties', '')).bytes().length).toBe(0);
    expect(seenByHost).toEqual(['']);
    const got = JSON.parse((await plugin.call('empties', 'json')).text());
    // An empty Var value is "no value" on every host (the kernel's offset 0 removes a variable).
    expect(got).toEqual({ answer: '', emptyVar: null, emptyKey: null });
    expect((await plugin.call('echoString', '')).text()).toBe('');
    expect((await plugin.call('empties', 'twice')).bytes().length).toBe(0);
  });

  it('recovers from calls a host-function trap aborted, deep in JavaScript', async () => {
    // Deeper than any trap below: it must still fit after them (a shadow stack
    // left where each trap happened would be used up after two or three).
    expect((await plugin.call('recurse', '800')).text()).toBe('800');
    const before = JSON.parse((await plugin.call('afterTrap')).text()) as { aborted: number; traps: number };
    for (let i = 0; i < 20; i++) {
      const failure = await plugin.call('trapInHost', '600').then(
        () => null,
        (e: unknown) => e,
      );
      expect(failure).toBeInstanceOf(PluginCallError);
      expect((failure as PluginCallError).trapped).toBe(true);
      expect((failure as PluginCallError).detail).toMatch(/probe_upper refused trap:/);
    }
    const after = JSON.parse((await plugin.call('afterTrap')).text());
    // The closure made in the dead frames kept its own value; the dead calls' promise jobs never ran.
    expect(after).toEqual({ captured: `captured-${before.traps + 20}`, lateJobs: 0, aborted: before.aborted + 20, traps: before.traps + 20 });
    expect((await plugin.call('recurse', '800')).text()).toBe('800');
    await expect(plugin.call('recurse', '1000000')).rejects.toThrow(/stack overflow/);
    await expect(plugin.call('throwError', 'after traps')).rejects.toThrow(/boom: after traps/);
    expect((await plugin.call('echoString', 'after traps')).text()).toBe('after traps');
    const out = JSON.parse((await plugin.call('yjsEdits', '50')).text());
    expect(out.length).toBe(50);
  });

  it('runs Yjs', async () => {
    const out = JSON.parse((await plugin.call('yjsEdits', '300')).text());
    expect(out.length).toBe(300);
    expect(out.bytes).toBeGreaterThan(300);
  });
});

describe(`randomness after pre-initialisation on ${ENGINE}`, () => {
  it('gives two instances different Math.random sequences and Yjs client ids', async () => {
    const a = await load(PROBE_WASM);
    const b = await load(PROBE_WASM);
    try {
      const ra = JSON.parse((await a.call('randomness')).text());
      const rb = JSON.parse((await b.call('randomness')).text());
      expect(ra.random).not.toEqual(rb.random);
      expect(ra.clientID).not.toBe(rb.clientID);
      expect(ra.bytes).not.toEqual(rb.bytes);
      // Later calls in the same instance keep producing new values.
      const ra2 = JSON.parse((await a.call('randomness')).text());
      expect(ra2.random).not.toEqual(ra.random);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
