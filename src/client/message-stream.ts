// `client.messages(filter?)`: incoming messages as an async iterator. Each iterator buffers what
// arrives until it is read (unbounded: a consumer that stops reading should `break`), and ends
// when the client closes. Breaking out of `for await` detaches it.
import { MoatError } from '../codec/errors.js';
import type { Properties, QoS } from '../codec/types.js';
import { filterMatches } from '../topic/filter-matches.js';
import { parseSharedFilter, validateTopicFilter } from '../topic/validate.js';

/** A PUBLISH the server delivered; topic aliases already resolved. */
export interface ReceivedMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly dup: boolean;
  /** MQTT 5 properties, when the server sent any (topicAlias removed once resolved). */
  readonly properties?: Properties;
}

/** One `messages()` iterator: a queue of messages and at most one waiting `next()`. */
export class MessageStream implements AsyncIterableIterator<ReceivedMessage> {
  readonly #filter: string | undefined;
  readonly #detach: (stream: MessageStream) => void;
  readonly #buffer: ReceivedMessage[] = [];
  #waiting: ((result: IteratorResult<ReceivedMessage, undefined>) => void) | undefined;
  #done = false;

  /** `filter` is a topic filter; a `$share/group/` prefix is ignored, since delivered topics lack it. */
  constructor(filter: string | undefined, detach: (stream: MessageStream) => void) {
    if (filter !== undefined) {
      const problem = typeof filter === 'string' ? validateTopicFilter(filter) : 'it is not a string';
      if (problem !== undefined) throw new MoatError('MOAT_ERR_INVALID_TOPIC', `messages(): the filter is not valid: ${problem}.`);
      this.#filter = parseSharedFilter(filter)?.filter ?? filter;
    }
    this.#detach = detach;
  }

  /** Offers a message; ignored when it does not match the filter or the stream has ended. */
  push(message: ReceivedMessage): void {
    if (this.#done) return;
    if (this.#filter !== undefined && !filterMatches(this.#filter, message.topic)) return;
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting({ value: message, done: false });
    } else {
      this.#buffer.push(message);
    }
  }

  /** The client closed: buffered messages are still read, then the iteration ends. */
  end(): void {
    this.#done = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<ReceivedMessage, undefined>> {
    const message = this.#buffer.shift();
    if (message !== undefined) return Promise.resolve({ value: message, done: false });
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    if (this.#waiting !== undefined) {
      return Promise.reject(new MoatError('MOAT_ERR_CONCURRENT_NEXT', 'messages(): next() called again before the previous call resolved; await each next().'));
    }
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<ReceivedMessage, undefined>> {
    this.#buffer.length = 0;
    this.end();
    this.#detach(this);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
