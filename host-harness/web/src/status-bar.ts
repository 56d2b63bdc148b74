/**
 * The plugin's status-bar item (`StatusBarItem {plugin_command}`): polls the
 * command (GetSyncStatus) and shows its label, with the state as a coloured
 * dot and the detail (an error's reason) as the tooltip.
 */
import type { PluginRunner } from './call-queue';
import { h } from './settings';

export class StatusItem {
  readonly element: HTMLElement;
  private readonly dot = h('span', { class: 'dot', 'aria-hidden': 'true' });
  private readonly text = h('span', { class: 'label' }, '…');
  private timer: ReturnType<typeof setInterval> | null = null;
  private busy = false;

  constructor(
    private readonly runner: PluginRunner,
    readonly id: string,
    private readonly command: string,
  ) {
    this.element = h('div', { class: 'status-item', id: `status-${id}`, role: 'status', 'data-state': 'idle' }, this.dot, this.text);
  }

  start(intervalMs = 1000): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async refresh(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const res = await this.runner.command(this.command, {});
      if (res.success && res.data && typeof res.data === 'object') {
        const d = res.data as { state?: string; label?: string; detail?: string | null };
        this.element.dataset.state = d.state ?? 'idle';
        this.text.textContent = d.label ?? d.state ?? '';
        this.element.title = d.detail ?? d.label ?? '';
      } else {
        this.element.dataset.state = 'error';
        this.text.textContent = `Status unavailable: ${res.error ?? 'no answer'}`;
      }
    } finally {
      this.busy = false;
    }
  }
}
