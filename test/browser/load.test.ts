/**
 * The same dist/diaryx_sync.wasm loads in headless Chromium with the
 * @extism/extism browser build and returns the manifest.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/chromium';
import { serveStatic, type StaticServer } from '../helpers/static-server';
import { PLUGIN_WASM, ROOT } from '../helpers/paths';
// @ts-expect-error plain ESM build script without type declarations
import { readInterface } from '../../scripts/build/interface.mjs';

const PAGE = `<!doctype html><meta charset="utf-8"><title>load</title>
<script type="module">
import createPlugin from '/extism.js';
const hostNames = await (await fetch('/host-names.json')).json();
const functions = {};
for (const name of hostNames) functions[name] = (cp, addr) => cp.store(name === 'host_get_timestamp' ? String(Date.now()) : '');
try {
  const plugin = await createPlugin({ wasm: [{ url: new URL('/plugin.wasm', location.href).href }] }, { useWasi: true, functions: { 'extism:host/user': functions } });
  const out = await plugin.call('manifest', '');
  window.result = { manifest: out.text() };
} catch (e) {
  window.result = { error: String(e && e.stack || e) };
}
</script>`;

describe('browser', () => {
  let server: StaticServer;
  let browser: Browser;
  beforeAll(async () => {
    const iface = readInterface(fs.readFileSync(PLUGIN_WASM)) as { imports: { module: string; name: string }[] };
    const hostNames = iface.imports.filter((i) => i.module === 'extism:host/user').map((i) => i.name);
    server = await serveStatic({
      '/': { body: PAGE, type: 'text/html; charset=utf-8' },
      '/extism.js': path.join(ROOT, 'node_modules', '@extism', 'extism', 'dist', 'browser', 'mod.js'),
      '/plugin.wasm': PLUGIN_WASM,
      '/host-names.json': { body: JSON.stringify(hostNames), type: 'application/json' },
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('loads the plugin and returns the manifest', async () => {
    const page = await browser.newPage();
    await page.goto(server.url + '/');
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, { timeout: 60_000 });
    const result = (await page.evaluate(() => (window as unknown as { result: unknown }).result)) as { manifest?: string; error?: string };
    expect(result.error).toBeUndefined();
    const manifest = JSON.parse(result.manifest!);
    expect(manifest.id).toBe('diaryx.sync');
    expect(manifest.name).toBe('Sync');
  });
});
