// Timers for durations a client or a config chooses. Node's setTimeout holds a signed 32-bit delay:
// anything above 2^31-1 ms (24.8 days) fires after 1 ms with a TimeoutOverflowWarning, which turned
// a Session Expiry Interval of 30 days into "expire now". MQTT allows 0xFFFFFFFE s (136 years), so a
// long wait is a chain of timers each within the limit, re-armed against one absolute deadline.

/** The longest delay Node's setTimeout honours. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class LongTimer {
  readonly #fire: () => void;
  /** Date.now() at which to fire. */
  readonly deadline: number;
  #handle: NodeJS.Timeout | undefined;

  /** Calls `fire` once after `delayMs` (any finite non-negative number); unref'd like the broker's other timers. */
  constructor(delayMs: number, fire: () => void) {
    this.#fire = fire;
    this.deadline = Date.now() + delayMs;
    this.#arm(delayMs);
  }

  #arm(delayMs: number): void {
    this.#handle = setTimeout(LongTimer.#step, Math.min(Math.max(delayMs, 0), MAX_TIMEOUT_MS), this);
    this.#handle.unref();
  }

  static #step(timer: LongTimer): void {
    const left = timer.deadline - Date.now();
    if (left > 0) {
      timer.#arm(left);
      return;
    }
    timer.#handle = undefined;
    timer.#fire();
  }

  get pending(): boolean {
    return this.#handle !== undefined;
  }

  cancel(): void {
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = undefined;
  }
}
