/** Polling waits: tests wait for a condition, never for a fixed time. */

/** Resolves when `cond()` is truthy (polled every `interval` ms); rejects with `message` after `timeout` ms. */
export async function waitFor<T>(cond: () => T | Promise<T>, message = 'condition', timeout = 10_000, interval = 5): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${message}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
