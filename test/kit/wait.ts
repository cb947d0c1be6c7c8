// Polling for a condition with a deadline, for tests that watch logs or counters.

/** Resolves once `check()` is true; rejects naming `what` after `ms`. */
export async function until(check: () => boolean, ms = 2000, what = 'the condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
