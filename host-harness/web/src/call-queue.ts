/**
 * The plugin in the page: loaded with the @extism/extism browser build on the
 * main thread (host functions are called synchronously), and driven through
 * one call queue, because concurrent `plugin.call`s mix up their results.
 * Everything (UI commands, iframe commands, file events, WebSocket
 * callbacks) goes through `call`.
 */
import createPlugin, { type CallContext, type Plugin } from '@extism/extism';

export type HostFunctionTable = Record<string, (input: string) => string>;

export interface CommandResponse {
  success: boolean;
  data?: unknown;
  error?: string | null;
}

export class PluginRunner {
  private tail: Promise<unknown> = Promise.resolve();
  /** Exports that failed, newest last (shown in the host's log panel). */
  readonly failures: string[] = [];

  private constructor(private readonly plugin: Plugin) {}

  static async load(wasmUrl: string, functions: HostFunctionTable, logger: Console = console): Promise<PluginRunner> {
    const bound: Record<string, (cc: CallContext, addr: bigint) => bigint> = {};
    for (const [name, fn] of Object.entries(functions)) {
      bound[name] = (cc, addr) => {
        let out: string;
        try {
          out = fn(cc.read(addr)?.text() ?? '');
        } catch (e) {
          out = JSON.stringify({ error: `${name}: ${(e as Error).message}` });
        }
        return out === '' ? 0n : cc.store(out);
      };
    }
    const plugin = await createPlugin(
      { wasm: [{ url: new URL(wasmUrl, location.href).href }] },
      { useWasi: true, runInWorker: false, logger, functions: { 'extism:host/user': bound } },
    );
    return new PluginRunner(plugin);
  }

  /** Calls an export after every earlier call; resolves with its output bytes. */
  call(name: string, input: string | Uint8Array = ''): Promise<Uint8Array> {
    const run = async () => {
      try {
        const out = await this.plugin.call(name, input);
        return out ? out.bytes().slice() : new Uint8Array(0);
      } catch (e) {
        const msg = `${name}: ${(e as Error).message ?? String(e)}`;
        this.failures.push(msg);
        throw new Error(msg);
      } finally {
        // The SDK keeps every memory block until reset() and breaks after ~32k of them.
        await this.plugin.reset();
      }
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  async callText(name: string, input: string | Uint8Array = ''): Promise<string> {
    return new TextDecoder().decode(await this.call(name, input));
  }

  /** handle_command; a failing call becomes `{success: false, error}`. */
  async command(command: string, params: unknown = {}): Promise<CommandResponse> {
    try {
      const text = await this.callText('handle_command', JSON.stringify({ command, params }));
      return JSON.parse(text) as CommandResponse;
    } catch (e) {
      return { success: false, error: (e as Error).message };
    }
  }

  /** on_event, fire and forget (errors are kept in `failures`). */
  event(eventType: string, payload: Record<string, unknown>): Promise<void> {
    return this.call('on_event', JSON.stringify({ event_type: eventType, payload })).then(
      () => undefined,
      () => undefined,
    );
  }

  /** Resolves when every call queued so far has finished. */
  async idle(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.tail;
      await seen;
    } while (seen !== this.tail);
  }
}
