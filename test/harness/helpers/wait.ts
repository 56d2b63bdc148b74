/** Polls a condition until it holds (or fails after a generous limit). */
export async function waitFor(cond: () => boolean, what = 'condition', limitMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
