// Retained messages: what a PUBLISH with RETAIN stores or clears, and what a new subscription is
// sent. They live in the Store (store.ts), so a durable store keeps them and a cluster shares them;
// this module holds the MQTT rules around them.
import type { Store } from '../store/store.js';
import { parseSharedFilter } from '../topic/validate.js';
import { remainingExpiry, type Message } from './message.js';

export class RetainedMessages {
  readonly #store: Store<Message>;

  constructor(store: Store<Message>) {
    this.#store = store;
  }

  get count(): number {
    return this.#store.retainedCount;
  }

  get bytes(): number {
    return this.#store.retainedBytes;
  }

  /** Stores or clears (empty payload [MQTT-3.3.1-6]) the retained message of a PUBLISH with RETAIN set. */
  store(message: Message): void {
    if (!message.retain) return;
    if (message.payload.length === 0) this.#store.deleteRetained(message.topic);
    // A copy: the payload is a slice of a socket read, which a long-lived retained message must not pin.
    else this.#store.putRetained({ ...message, payload: Buffer.from(message.payload), wire: undefined });
  }

  /** What a new subscription to `filter` is sent [MQTT-3.3.1-9]; none for shared subscriptions (MQTT 5.0 section 4.8.2). Expired ones are removed. */
  *matching(filter: string): Iterable<Message> {
    if (parseSharedFilter(filter) !== undefined) return;
    const now = Date.now();
    if (!filter.includes('+') && !filter.includes('#')) {
      const message = this.#store.getRetained(filter);
      if (message !== undefined && !expired(message, now)) yield message;
      return;
    }
    for (const message of this.#store.matchRetained(filter)) {
      if (expired(message, now)) {
        this.#store.deleteRetained(message.topic);
        continue;
      }
      yield message;
    }
  }
}

function expired(message: Message, now: number): boolean {
  const left = remainingExpiry(message, now);
  return left !== undefined && left <= 0;
}
