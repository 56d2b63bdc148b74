/**
 * How long a host waits before reconnecting the sync socket: 1 s after the
 * first close, then 1.5 times longer after each failed attempt, at most 30 s;
 * an open connection starts again at 1 s.
 */

export interface Backoff {
  /** First delay in ms. */
  baseMs: number;
  /** Growth per failed attempt. */
  factor: number;
  /** Longest delay in ms. */
  maxMs: number;
}

export const RECONNECT_BACKOFF: Backoff = { baseMs: 1000, factor: 1.5, maxMs: 30_000 };

/** Delay before reconnect attempt `attempt` (1-based). */
export function reconnectDelay(attempt: number, backoff: Partial<Backoff> = {}): number {
  const baseMs = backoff.baseMs ?? RECONNECT_BACKOFF.baseMs;
  const factor = backoff.factor ?? RECONNECT_BACKOFF.factor;
  const maxMs = backoff.maxMs ?? RECONNECT_BACKOFF.maxMs;
  return Math.min(baseMs * factor ** Math.max(0, attempt - 1), maxMs);
}
