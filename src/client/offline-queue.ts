// publish() calls made while the client is reconnecting wait here, bounded in messages and in
// bytes. When a new message does not fit, the overflow policy decides: drop the oldest queued
// messages, drop the new one, or reject the new one with MOAT_ERR_OFFLINE_QUEUE_FULL. Dropped
// messages reject with MOAT_ERR_OFFLINE_QUEUE_DROPPED. On reconnect the client takes them all, in
// order, and hands them to the Outbox.
import { MqttError } from './errors.js';

export type OverflowPolicy = 'drop-oldest' | 'drop-newest' | 'error';

export interface OfflineQueueLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly overflow: OverflowPolicy;
}

/** One waiting publish(): the encoded PUBLISH and the caller's promise. */
export interface QueuedPublish {
  readonly buffer: Buffer;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class OfflineQueue<T extends QueuedPublish = QueuedPublish> {
  readonly #limits: OfflineQueueLimits;
  #items: T[] = [];
  #bytes = 0;

  constructor(limits: OfflineQueueLimits) {
    this.#limits = limits;
  }

  get length(): number {
    return this.#items.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Queues `item` or applies the overflow policy; a rejected or dropped item's promise rejects. */
  add(item: T): void {
    const { maxMessages, maxBytes, overflow } = this.#limits;
    const size = item.buffer.length;
    const fits = (): boolean => this.#items.length < maxMessages && this.#bytes + size <= maxBytes;
    if (fits()) return this.#push(item);
    if (size > maxBytes || overflow === 'error') {
      const why = size > maxBytes ? `the message (${size} bytes) is larger than offlineQueue.maxBytes (${maxBytes})` : this.#fullness();
      item.reject(new MqttError('MOAT_ERR_OFFLINE_QUEUE_FULL', `publish(): the client is reconnecting and the offline queue is full: ${why}. Raise offlineQueue limits, or wait for onConnect.`));
      return;
    }
    if (overflow === 'drop-newest') {
      item.reject(dropped(`it arrived while the offline queue was full (${this.#fullness()}; offlineQueue.overflow 'drop-newest')`));
      return;
    }
    while (!fits()) {
      // maxMessages 0: nothing to push out; the queue is off and the new message is dropped.
      if (this.#items.length === 0) return item.reject(dropped('the offline queue is off (offlineQueue.maxMessages 0)'));
      const oldest = this.#items.shift() as T;
      this.#bytes -= oldest.buffer.length;
      oldest.reject(dropped(`newer messages pushed it out of the full offline queue (offlineQueue.overflow 'drop-oldest')`));
    }
    this.#push(item);
  }

  /** Empties the queue, returning its items in order. */
  take(): T[] {
    const items = this.#items;
    this.#items = [];
    this.#bytes = 0;
    return items;
  }

  failAll(error: Error): void {
    for (const item of this.take()) item.reject(error);
  }

  #push(item: T): void {
    this.#items.push(item);
    this.#bytes += item.buffer.length;
  }

  #fullness(): string {
    return `${this.#items.length}/${this.#limits.maxMessages} messages, ${this.#bytes}/${this.#limits.maxBytes} bytes`;
  }
}

function dropped(why: string): MqttError {
  return new MqttError('MOAT_ERR_OFFLINE_QUEUE_DROPPED', `A message published while the client was reconnecting was dropped: ${why}.`);
}
