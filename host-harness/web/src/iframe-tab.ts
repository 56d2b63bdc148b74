/**
 * A plugin sidebar tab the way Diaryx shows it: the plugin's HTML
 * (`get_component_html`) loaded from a blob URL into
 * `<iframe sandbox="allow-scripts">` (an opaque origin: no access to the page,
 * its storage or cookies), talking to the host only by postMessage:
 *
 * host -> iframe: `init {theme, cssVars, entry}`, `theme-update`,
 *   `plugin-event {event, data}` (`entry-changed`, `workspace-changed`),
 *   `plugin-response {requestId, result}`, `host-action-response`;
 * iframe -> host: `plugin-command {command, params, requestId}` (run through
 *   the plugin's call queue), `content-size {height}`, `host-action`.
 *
 * Messages are accepted only from this tab's own iframe window.
 */
import type { PluginRunner } from './call-queue';

export interface Entry {
  path: string;
  title: string | null;
  content: string;
}

export interface ThemeInfo {
  theme: 'light' | 'dark';
  cssVars: Record<string, string>;
}

export class IframeTab {
  readonly iframe: HTMLIFrameElement;
  private blobUrl: string | null = null;
  private ready = false;
  private readonly onMessage = (ev: MessageEvent) => void this.handle(ev);

  constructor(
    private readonly runner: PluginRunner,
    readonly componentId: string,
    readonly label: string,
    private readonly theme: () => ThemeInfo,
    private readonly entry: () => Entry | null,
  ) {
    this.iframe = document.createElement('iframe');
    this.iframe.setAttribute('sandbox', 'allow-scripts');
    this.iframe.setAttribute('title', label);
    this.iframe.dataset.component = componentId;
    this.iframe.className = 'plugin-iframe';
    window.addEventListener('message', this.onMessage);
  }

  /** Loads the component's HTML into the iframe (again, when called again). */
  async load(): Promise<void> {
    const html = await this.componentHtml();
    if (this.blobUrl) URL.revokeObjectURL(this.blobUrl);
    this.blobUrl = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
    this.ready = false;
    this.iframe.onload = () => {
      this.ready = true;
      this.post({ type: 'init', ...this.theme(), entry: this.entry() });
    };
    this.iframe.src = this.blobUrl;
  }

  private async componentHtml(): Promise<string> {
    try {
      return await this.runner.callText('get_component_html', JSON.stringify({ component_id: this.componentId }));
    } catch {
      const res = await this.runner.command('get_component_html', { component_id: this.componentId });
      if (res.success && typeof res.data === 'string') return res.data;
      return `<!doctype html><p role="alert">${this.label} could not be loaded: ${String(res.error ?? 'no HTML')}</p>`;
    }
  }

  private post(msg: Record<string, unknown>): void {
    this.iframe.contentWindow?.postMessage(msg, '*');
  }

  themeChanged(): void {
    if (this.ready) this.post({ type: 'theme-update', ...this.theme() });
  }

  event(event: string, data: unknown): void {
    if (this.ready) this.post({ type: 'plugin-event', event, data });
  }

  private async handle(ev: MessageEvent): Promise<void> {
    if (ev.source !== this.iframe.contentWindow) return;
    const msg = ev.data as Record<string, unknown> | null;
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'plugin-command': {
        const requestId = msg.requestId;
        const command = typeof msg.command === 'string' ? msg.command : '';
        const result = command
          ? await this.runner.command(command, msg.params && typeof msg.params === 'object' ? msg.params : {})
          : { success: false, data: null, error: 'plugin-command without a command name' };
        this.post({ type: 'plugin-response', requestId, result });
        break;
      }
      case 'content-size':
        break;
      case 'host-action':
        this.post({ type: 'host-action-response', requestId: msg.requestId, success: false, error: 'This host has no host actions' });
        break;
    }
  }

  dispose(): void {
    window.removeEventListener('message', this.onMessage);
    if (this.blobUrl) URL.revokeObjectURL(this.blobUrl);
  }
}
