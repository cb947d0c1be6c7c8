// Client keep alive [MQTT-3.1.2-23]: a PINGREQ when nothing was sent for `keepalive` seconds, and
// the connection is declared dead when its PINGRESP does not come within half of that. One timer,
// re-armed from the last write: no timer churn per packet.

export class Keepalive {
  readonly intervalMs: number;
  /** How long a PINGREQ may wait for its PINGRESP. */
  readonly timeoutMs: number;
  readonly #sendPing: () => void;
  readonly #onTimeout: () => void;
  #lastWrite = Date.now();
  #pingSentAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(keepaliveSeconds: number, sendPing: () => void, onTimeout: () => void) {
    this.intervalMs = keepaliveSeconds * 1000;
    this.timeoutMs = Math.ceil(this.intervalMs / 2);
    this.#sendPing = sendPing;
    this.#onTimeout = onTimeout;
  }

  start(): void {
    if (this.intervalMs === 0 || this.#stopped) return;
    this.#arm(this.intervalMs);
  }

  /** Called for every packet written. */
  wrote(): void {
    this.#lastWrite = Date.now();
  }

  pingresp(): void {
    this.#pingSentAt = undefined;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(Keepalive.#fire, Math.max(ms, 1), this);
    this.#timer.unref();
  }

  static #fire(self: Keepalive): void {
    if (self.#stopped) return;
    const now = Date.now();
    if (self.#pingSentAt !== undefined) {
      const waited = now - self.#pingSentAt;
      if (waited >= self.timeoutMs) {
        self.stop();
        self.#onTimeout();
        return;
      }
      self.#arm(self.timeoutMs - waited);
      return;
    }
    const idle = now - self.#lastWrite;
    if (idle < self.intervalMs) {
      self.#arm(self.intervalMs - idle);
      return;
    }
    self.#pingSentAt = now;
    self.#sendPing();
    self.#arm(self.timeoutMs);
  }
}
