// Retained messages by topic, in memory, with their payload bytes counted: what every store keeps
// to answer the synchronous retained lookups of SUBSCRIBE (the memory store holds nothing else;
// the SQLite and Redis stores keep it as a copy of their file or Redis, loaded at open).
import { filterMatches } from '../topic/filter-matches.js';
import type { StoredMessage } from './store.js';

export class RetainedCache<M extends StoredMessage> {
  readonly #byTopic = new Map<string, M>();
  #bytes = 0;

  /** Keeps `message` as its topic's retained message, replacing any. */
  set(message: M): void {
    this.#bytes += message.payload.length - (this.#byTopic.get(message.topic)?.payload.length ?? 0);
    this.#byTopic.set(message.topic, message);
  }

  delete(topic: string): void {
    this.#bytes -= this.#byTopic.get(topic)?.payload.length ?? 0;
    this.#byTopic.delete(topic);
  }

  get(topic: string): M | undefined {
    return this.#byTopic.get(topic);
  }

  /** The messages whose topics `filter` matches ($-topics only by filters that name them [MQTT-4.7.2-1]). */
  *match(filter: string): Iterable<M> {
    if (!filter.includes('+') && !filter.includes('#')) {
      const message = this.#byTopic.get(filter);
      if (message !== undefined) yield message;
      return;
    }
    for (const [topic, message] of this.#byTopic) if (filterMatches(filter, topic)) yield message;
  }

  get count(): number {
    return this.#byTopic.size;
  }

  /** Payload bytes of all of them. */
  get bytes(): number {
    return this.#bytes;
  }

  clear(): void {
    this.#byTopic.clear();
    this.#bytes = 0;
  }
}
