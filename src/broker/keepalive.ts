// Keep alive and the connect timeout: a client silent for one and a half times its Keep Alive is
// disconnected (0x8D) [MQTT-3.1.2-24], and a socket that sends no CONNECT within connect_timeout
// is closed. No timer per connection: one sweep per broker checks them all every 250 ms, which
// keeps 10,000s of idle clients cheap and costs nothing per packet (a connection only records the
// start of the event-loop turn that last brought it a complete packet).
import type { ConnectionState } from './connection.js';

/** How often deadlines are checked: each is enforced within this much. */
export const SWEEP_INTERVAL_MS = 250;

/** How long a client may be silent: 1.5 × its Keep Alive [MQTT-3.1.2-24]; 0 = no limit. */
export function keepaliveWindowMs(keepaliveSeconds: number): number {
  return keepaliveSeconds * 1500;
}

/** The Keep Alive a window of keepaliveWindowMs came from, seconds. */
export function keepaliveSecondsOf(windowMs: number): number {
  return windowMs / 1500;
}

/** What a connection shows the sweep. */
export interface DeadlineClock {
  readonly state: ConnectionState;
  /** When the socket arrived (ms): the connect timeout counts from here, so a slow drip cannot hold a slot. */
  readonly openedAt: number;
  /** When its last complete packet arrived (ms). */
  readonly lastActivity: number;
  readonly keepaliveMs: number;
  /** Its input is held for our reasons (a turn's budget, flow control): its silence is ours, not its. */
  readonly heldByUs: boolean;
}

/** Which deadline `clock` has missed at `now`, if any. */
export function missedDeadline(clock: DeadlineClock, now: number, connectTimeoutMs: number): 'connect' | 'keepalive' | undefined {
  if (clock.state === 'new' || clock.state === 'admitting') return now - clock.openedAt >= connectTimeoutMs ? 'connect' : undefined;
  if (clock.state !== 'connected' || clock.keepaliveMs === 0 || clock.heldByUs) return undefined;
  return now - clock.lastActivity >= clock.keepaliveMs ? 'keepalive' : undefined;
}

/** The one timer of a broker that runs `sweep` while there are connections to check. */
export class DeadlineSweep {
  readonly #sweep: (now: number) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(sweep: (now: number) => void) {
    this.#sweep = sweep;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#sweep(Date.now()), SWEEP_INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
