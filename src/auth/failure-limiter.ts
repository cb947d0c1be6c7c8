// Failed logins are counted per key ("address 10.0.0.7", "username alice") in a fixed window; a key
// that reaches the limit is banned until its window ends. Bounded: keys whose window is over are
// pruned, and the table never holds more than MAX_KEYS (oldest first out), so a spray of addresses
// cannot grow it without limit.

const MAX_KEYS = 100_000;

interface Entry {
  failures: number;
  /** When the window (and any ban) ends, ms since the epoch. */
  until: number;
}

export class FailureLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #entries = new Map<string, Entry>();

  /**
   * `limit` failures within `windowMs` ban the key for the rest of that window; limit 0 never bans
   * but still counts (the login queue serves addresses with fewer failures first).
   */
  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Seconds left on the key's ban, or 0 when it is not banned. */
  bannedFor(key: string, now = Date.now()): number {
    if (this.#limit === 0) return 0;
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.failures < this.#limit) return 0;
    if (entry.until <= now) {
      this.#entries.delete(key);
      return 0;
    }
    return Math.ceil((entry.until - now) / 1000);
  }

  /** Failures counted for the key in its current window (0 when none, or the window is over). */
  failures(key: string, now = Date.now()): number {
    const entry = this.#entries.get(key);
    return entry === undefined || entry.until <= now ? 0 : entry.failures;
  }

  /** Counts a failure; returns true when this failure starts a ban. */
  recordFailure(key: string, now = Date.now()): boolean {
    let entry = this.#entries.get(key);
    if (entry === undefined || entry.until <= now) {
      if (entry !== undefined) this.#entries.delete(key);
      this.#prune(now);
      entry = { failures: 0, until: now + this.#windowMs };
      this.#entries.set(key, entry);
    }
    entry.failures++;
    // The ban lasts a full window from the failure that triggered it.
    if (this.#limit > 0 && entry.failures === this.#limit) {
      entry.until = now + this.#windowMs;
      return true;
    }
    return false;
  }

  /** A successful login clears the key's failures (a user who mistyped once is not held to them). */
  recordSuccess(key: string): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined && (this.#limit === 0 || entry.failures < this.#limit)) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  #prune(now: number): void {
    if (this.#entries.size < MAX_KEYS) return;
    for (const [key, entry] of this.#entries) {
      if (entry.until <= now || this.#entries.size >= MAX_KEYS) this.#entries.delete(key);
      else break;
    }
  }
}
