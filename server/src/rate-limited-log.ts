/**
 * Log lines that a client can cause at will (refused frames, malformed input)
 * go through here: at most `burst` lines per kind per interval, server-wide,
 * then one line saying how many were suppressed. Otherwise a few sockets
 * sending junk write the disk full and keep the event loop busy formatting.
 */
import type { LogFields, Logger } from './log';

const DEFAULT_BURST = 20;
const DEFAULT_INTERVAL_MS = 10_000;

export class RateLimitedLog {
  private readonly windows = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly burst = DEFAULT_BURST,
    private readonly intervalMs = DEFAULT_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `message` at `level` unless this kind (the message) exceeded its budget for the interval. */
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: LogFields): void {
    const t = this.now();
    let w = this.windows.get(message);
    if (!w || t - w.start >= this.intervalMs) {
      if (w && w.suppressed > 0) this.logger[level](`${message} (${w.suppressed} similar lines suppressed)`, { seconds: Math.round((t - w.start) / 1000) });
      w = { start: t, count: 0, suppressed: 0 };
      this.windows.set(message, w);
    }
    if (w.count < this.burst) {
      w.count++;
      this.logger[level](message, fields);
    } else {
      w.suppressed++;
    }
  }
}
