// What a role sees of the worker it runs in.
export interface RoleContext {
  /** The shared counter block; this role writes only counters[base + SENT/RECEIVED/ACKED/AUX]. */
  readonly counters: Float64Array;
  readonly base: number;
  /** Announces "connected, ready" and resolves when the main thread says go (or stop). */
  ready(): Promise<void>;
  /** Resolves when the main thread asks the role to stop. */
  readonly stopped: Promise<void>;
  isStopped(): boolean;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs fn over items with at most `limit` in flight. */
export async function withConcurrency<T>(items: number, limit: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(items);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items) }, async () => {
    while (next < items) {
      const i = next++;
      out[i] = await fn(i);
    }
  });
  await Promise.all(lanes);
  return out;
}
