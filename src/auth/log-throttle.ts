// At most one log record per interval for an event that can come in floods (a login storm refused
// as busy, a hashing worker that keeps dying): the first is logged at once, later ones are counted
// and the count goes out with the next record, so nothing is silent and the log is not flooded.

export class LogThrottle {
  readonly #intervalMs: number;
  #lastAt = -Infinity;
  #suppressed = 0;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /**
   * Call once per event: returns how many events were held back since the last record when this
   * one should be logged (0 for the first), or undefined when it is held back.
   */
  take(now = performance.now()): number | undefined {
    if (now - this.#lastAt < this.#intervalMs) {
      this.#suppressed++;
      return undefined;
    }
    const suppressed = this.#suppressed;
    this.#lastAt = now;
    this.#suppressed = 0;
    return suppressed;
  }
}
