/**
 * What `diaryx-sync sync` prints: one line per change (`↑ sent`,
 * `↓ received`, `+ created`, `→ renamed`, `- deleted`, `! conflict`) on
 * stdout, problems with their reason and what happens next on stderr, and a
 * progress bar on a terminal. `quiet` keeps the problems only; `verbose` adds
 * every status change.
 */
import cliProgress from 'cli-progress';
import type { SyncActivity } from '../sync-activity';

export type Verbosity = 'quiet' | 'normal' | 'verbose';

const time = () => new Date().toLocaleTimeString('en-GB');

function seconds(ms: number): string {
  return `${Math.max(1, Math.round(ms / 1000))} s`;
}

/** `512 B`, `1.2 MB`. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** Attachments over this size get a progress bar while they move. */
const TRANSFER_BAR_BYTES = 1_000_000;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The line for one activity, and whether it is a problem (stderr, shown even when quiet). */
export function activityLine(a: SyncActivity): { text: string; problem: boolean } {
  const where = (pending: boolean) => (pending ? 'here, to send once connected' : 'here, sent');
  switch (a.kind) {
    case 'local':
      switch (a.change) {
        case 'saved':
          return { text: a.pending ? `↑ pending ${a.path} (to send once connected)` : `↑ sent ${a.path}`, problem: false };
        case 'created':
          return { text: `+ created ${a.path} (${where(a.pending)})`, problem: false };
        case 'deleted':
          return { text: `- deleted ${a.path} (${where(a.pending)})`, problem: false };
        case 'renamed':
          return { text: `→ renamed ${a.from} → ${a.path} (${where(a.pending)})`, problem: false };
      }
      break;
    case 'remote':
      switch (a.change) {
        case 'saved':
          return { text: `↓ received ${a.path}`, problem: false };
        case 'created':
          return { text: `+ created ${a.path} (from the server)`, problem: false };
        case 'deleted':
          return { text: `- deleted ${a.path} (from the server)`, problem: false };
        case 'renamed':
          return { text: `→ renamed ${a.from} → ${a.path} (from the server)`, problem: false };
      }
      break;
    case 'remote-bulk': {
      const parts = [a.created > 0 ? `${a.created} new` : '', a.saved > 0 ? `${a.saved} updated` : ''].filter(Boolean).join(', ');
      return { text: `↓ received ${plural(a.created + a.saved, 'file')} from the server (${parts})`, problem: false };
    }
    case 'conflict':
      return { text: `! conflict ${a.path}: the server had different text; this device's text is kept in ${a.copy}`, problem: true };
    case 'concurrent':
      return { text: `! concurrent edit ${a.message}`, problem: true };
    case 'not-synced':
      return { text: `! not synced: ${a.path}: ${a.reason}`, problem: true };
    case 'fixed':
      return { text: `✓ ${a.path} syncs again`, problem: false };
    case 'pending-sent':
      return { text: `↑ sent ${plural(a.count, 'change')} that waited for the connection`, problem: false };
    case 'unreachable': {
      const retry = a.retryInMs !== null ? `retry in ${seconds(a.retryInMs)}` : 'not retrying';
      return { text: `! ${a.lost ? 'connection lost' : 'server unreachable'}: ${a.reason}; ${plural(a.pending, 'change')} pending; ${retry}`, problem: true };
    }
    case 'reconnected':
      return { text: '✓ connected to the server again', problem: false };
    case 'attachment':
      return { text: `${a.direction === 'sent' ? '↑ sent' : '↓ received'} attachment ${a.path} (${formatBytes(a.bytes)})`, problem: false };
    case 'attachment-failed':
      return { text: `! attachment ${a.path || '(all)'} not transferred: ${a.reason}; trying again`, problem: true };
  }
  return { text: JSON.stringify(a), problem: false };
}

/**
 * Progress of transfers on a terminal. Each sequence (0 .. total) gets its
 * own label: the first download of files, then the check of their texts
 * with the server, so one run never shows the same label counting up twice.
 */
class ProgressBar {
  private bar: cliProgress.SingleBar | null = null;
  private sequences = 0;
  /** The running sequence: its label and last count (kept while the bar is paused for a line of output). */
  private current: { label: string; last: number } | null = null;

  constructor(private readonly enabled: boolean) {}

  update(completed: number, total: number): void {
    if (!this.enabled || total <= 0) return;
    if (this.current && completed < this.current.last) this.end();
    if (!this.current) {
      if (completed >= total) return;
      this.sequences++;
      this.current = { label: this.sequences === 1 ? 'receiving files' : 'checking file texts with the server', last: completed };
    }
    this.current.last = completed;
    if (completed >= total) {
      this.end();
      return;
    }
    if (!this.bar) {
      this.bar = new cliProgress.SingleBar(
        { format: `${this.current.label} [{bar}] {value}/{total}`, hideCursor: true, clearOnComplete: true, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, completed);
    } else this.bar.update(completed);
  }

  /** Takes the bar off the screen (a line is printed); the sequence goes on at the next update. */
  pause(): void {
    this.bar?.stop();
    this.bar = null;
  }

  /** Ends the running sequence. */
  end(): void {
    this.pause();
    this.current = null;
  }
}

export class SyncPrinter {
  private readonly bar: ProgressBar;
  private announcedSynced = false;
  private readonly transferBarEnabled: boolean;
  private transferBar: cliProgress.SingleBar | null = null;
  private transferLabel = '';
  /** When the running key derivation's line was started (null: none runs). */
  private kdfStarted: number | null = null;

  constructor(
    private readonly verbosity: Verbosity,
    tty: boolean,
  ) {
    this.bar = new ProgressBar(tty && verbosity !== 'quiet');
    this.transferBarEnabled = tty && verbosity !== 'quiet';
  }

  private write(text: string, problem: boolean): void {
    this.bar.pause();
    this.endTransfer();
    (problem ? process.stderr : process.stdout).write(`${time()} ${text}\n`);
  }

  /** A line from the command itself (start, stop); not shown when quiet. */
  info(text: string): void {
    if (this.verbosity !== 'quiet') this.write(text, false);
  }

  /** A problem; always shown. */
  problem(text: string): void {
    this.write(text, true);
  }

  activity(a: SyncActivity): void {
    const { text, problem } = activityLine(a);
    if (problem || this.verbosity !== 'quiet') this.write(text, problem);
  }

  progress(completed: number, total: number): void {
    this.bar.update(completed, total);
  }

  /** Progress of one attachment transfer (a bar for files over 1 MB, on a terminal). */
  transfer(p: string, direction: 'up' | 'down', done: number, total: number): void {
    if (!this.transferBarEnabled || total < TRANSFER_BAR_BYTES) return;
    const label = `${direction === 'up' ? 'sending' : 'receiving'} ${p}`;
    if (this.transferBar && this.transferLabel !== label) this.endTransfer();
    if (done >= total) {
      this.endTransfer();
      return;
    }
    if (!this.transferBar) {
      this.bar.pause();
      this.transferLabel = label;
      this.transferBar = new cliProgress.SingleBar(
        { format: `${label} [{bar}] {percentage}% of ${formatBytes(total)}`, hideCursor: true, clearOnComplete: true, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      );
      this.transferBar.start(total, done);
    } else this.transferBar.update(done);
  }

  private endTransfer(): void {
    this.transferBar?.stop();
    this.transferBar = null;
    this.transferLabel = '';
  }

  /**
   * The passphrase KDF (seconds inside the plugin) as one line: on a terminal
   * the percentage moves in place; elsewhere the line is written once, with
   * `done in N s` at its end.
   */
  keyDerivation(completed: number, total: number, message: string): void {
    if (this.verbosity === 'quiet') return;
    const text = message.replace(/\s*\d+%$/, '');
    const done = completed >= total;
    if (this.kdfStarted === null) {
      this.bar.pause();
      this.endTransfer();
      this.kdfStarted = Date.now();
      if (!process.stdout.isTTY) process.stdout.write(`${time()} ${text}`);
    }
    if (process.stdout.isTTY) process.stdout.write(`\r${time()} ${text} ${Math.round((completed / total) * 100)}%`);
    if (done) {
      process.stdout.write(` done in ${seconds(Date.now() - this.kdfStarted)}\n`);
      this.kdfStarted = null;
    }
  }

  status(status: string, detail?: string): void {
    if (status === 'error') {
      this.problem(`! sync error: ${detail ?? 'unknown'}`);
      return;
    }
    if (status === 'synced') {
      this.bar.end();
      if (!this.announcedSynced) this.info('✓ in sync with the server');
      this.announcedSynced = true;
      return;
    }
    if (status === 'disconnected' || status === 'connecting') this.announcedSynced = false;
    if (this.verbosity === 'verbose') this.write(`${status}${detail ? `: ${detail}` : ''}`, false);
  }

  stop(): void {
    this.bar.end();
    this.endTransfer();
  }
}
