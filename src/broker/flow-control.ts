// Publisher flow control: when QoS 1/2 messages pile up for a connected subscriber that is draining
// them, the publishers feeding it are read no further until its queue has room again. Acknowledged
// messages then wait in the publishers' own windows instead of being dropped at the full queue; a
// publisher is slowed to the pace of its subscribers, as TCP slows a sender to its receiver.
//
// Bounded, so one slow subscriber cannot stall the broker's publishers:
// - a hold lasts until the subscriber's queue is half down, and never longer than FLOW_MAX_HOLD_MS;
// - a subscriber that has acknowledged nothing for FLOW_STALL_MS holds no one (its messages drop);
// - a publisher is held at most FLOW_MAX_HELD_SHARE of any second: past that it is read as usual
//   and what its subscribers cannot take is dropped (and counted, see drops.ts).
// Off with publisher_flow_control false (Mosquitto's behaviour: drop at the full queue at once).

/** Longest single hold. */
export const FLOW_MAX_HOLD_MS = 100;
/** A subscriber that acknowledged nothing for this long is stalled, not slow: it holds no publisher. */
export const FLOW_STALL_MS = 100;
/**
 * Most of each second a publisher may spend held. The rest of the second it runs free and what a
 * slow subscriber cannot take is dropped; at 0.8 a subscriber 10% slower than its publishers lost
 * ~10% of an MQTT.js load that Mosquitto delivered whole, at 0.95 nothing.
 */
export const FLOW_MAX_HELD_SHARE = 0.95;
/** Queued messages above which a draining subscriber holds its publishers; at most this many. */
export const FLOW_QUEUE_HIGH = 100;

/** Queue length at which a session starts holding publishers, for its max_queued_messages. */
export function flowHighWater(maxQueuedMessages: number): number {
  return Math.max(1, Math.min(FLOW_QUEUE_HIGH, Math.floor(maxQueuedMessages / 2)));
}

/** One publisher connection's hold: its input is held while a subscriber's queue drains. */
export class PublisherHold {
  readonly #hold: () => void;
  readonly #release: () => void;
  #timer: NodeJS.Timeout | undefined;
  #gate: FlowGate | undefined;
  #heldSince = 0;
  /** Start of the current one-second accounting window, and the time held in it. */
  #windowStart = 0;
  #heldInWindow = 0;

  /** `hold` and `release` pause and resume the publisher's input. */
  constructor(hold: () => void, release: () => void) {
    this.#hold = hold;
    this.#release = release;
  }

  /** Holds the publisher until `gate` opens or the longest hold passes; not at all once its share of held time is spent. */
  holdOn(gate: FlowGate, now = Date.now()): void {
    if (this.#timer !== undefined) return;
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#heldInWindow = 0;
    }
    const left = FLOW_MAX_HELD_SHARE * 1000 - this.#heldInWindow;
    if (left <= 0) return;
    this.#heldSince = now;
    this.#timer = setTimeout(PublisherHold.#expire, Math.min(FLOW_MAX_HOLD_MS, left), this);
    this.#gate = gate;
    gate.add(this);
    this.#hold();
  }

  static #expire(hold: PublisherHold): void {
    hold.release();
  }

  release(now = Date.now()): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#gate?.delete(this);
    this.#gate = undefined;
    this.#heldInWindow += now - this.#heldSince;
    this.#release();
  }
}

/** A subscriber session's side: the publishers held on it, released together once its queue has room. */
export class FlowGate {
  readonly #held = new Set<PublisherHold>();

  add(hold: PublisherHold): void {
    this.#held.add(hold);
  }

  delete(hold: PublisherHold): void {
    this.#held.delete(hold);
  }

  open(): void {
    if (this.#held.size === 0) return;
    const held = [...this.#held];
    this.#held.clear();
    for (const hold of held) hold.release();
  }
}
