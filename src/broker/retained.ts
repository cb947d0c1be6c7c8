// Retained messages: what a PUBLISH with RETAIN stores or clears, and what a new subscription is
// sent. They live in the Store (store.ts), so a durable store keeps them and a cluster shares them;
// this module holds the MQTT rules around them. `$SYS/` topics are this broker's own live values:
// they stay in memory (a restart must not bring back stale counters, a disk or a cluster must not
// carry per-node figures every sys_interval), as Mosquitto leaves them out of its persistence file.
import { MemoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { parseSharedFilter } from '../topic/validate.js';
import { remainingExpiry, type Message } from './message.js';

const SYS_PREFIX = '$SYS/';

export class RetainedMessages {
  readonly #shared: Store<Message>;
  /** `$SYS/` topics, never written to the shared store. */
  readonly #local: Store<Message>;

  constructor(store: Store<Message>) {
    this.#shared = store;
    this.#local = store instanceof MemoryStore ? store : new MemoryStore<Message>();
  }

  get count(): number {
    return this.#shared.retainedCount + (this.#local === this.#shared ? 0 : this.#local.retainedCount);
  }

  get bytes(): number {
    return this.#shared.retainedBytes + (this.#local === this.#shared ? 0 : this.#local.retainedBytes);
  }

  #storeOf(topicOrFilter: string): Store<Message> {
    return topicOrFilter.startsWith(SYS_PREFIX) ? this.#local : this.#shared;
  }

  /** Stores or clears (empty payload [MQTT-3.3.1-6]) the retained message of a PUBLISH with RETAIN set. */
  store(message: Message): void {
    if (!message.retain) return;
    const store = this.#storeOf(message.topic);
    if (message.payload.length === 0) store.deleteRetained(message.topic);
    // A copy: the payload is a slice of a socket read, which a long-lived retained message must not pin.
    else store.putRetained({ ...message, payload: Buffer.from(message.payload), wire: undefined });
  }

  /**
   * Removes expired retained messages (the topics '#' matches: $SYS never expires, and a client's
   * own $-topics are removed when next matched).
   */
  purgeExpired(now: number): void {
    for (const message of this.#shared.matchRetained('#')) if (expired(message, now)) this.#shared.deleteRetained(message.topic);
  }

  /** What a new subscription to `filter` is sent [MQTT-3.3.1-9]; none for shared subscriptions (MQTT 5.0 section 4.8.2). Expired ones are removed. */
  *matching(filter: string): Iterable<Message> {
    if (parseSharedFilter(filter) !== undefined) return;
    const now = Date.now();
    if (!filter.includes('+') && !filter.includes('#')) {
      const store = this.#storeOf(filter);
      const message = store.getRetained(filter);
      if (message !== undefined && !expired(message, now)) yield message;
      return;
    }
    // Only a filter whose first level starts with '$' can match a $SYS topic [MQTT-4.7.2-1].
    const stores = this.#local === this.#shared || !filter.startsWith('$') ? [this.#shared] : [this.#shared, this.#local];
    for (const store of stores) {
      for (const message of store.matchRetained(filter)) {
        if (expired(message, now)) {
          store.deleteRetained(message.topic);
          continue;
        }
        yield message;
      }
    }
  }
}

function expired(message: Message, now: number): boolean {
  const left = remainingExpiry(message, now);
  return left !== undefined && left <= 0;
}
