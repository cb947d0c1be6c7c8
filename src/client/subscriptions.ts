// The client's subscription book: the filters the server granted, each with the options of the
// subscribe() call that made it, so a reconnect that found no session can re-send them.
import type { SubscribeOptions } from './packets.js';

export class SubscriptionBook {
  /** Filter → the options it was subscribed with (one object per subscribe() call). */
  readonly #filters = new Map<string, SubscribeOptions>();

  /** Remembers the filters of one subscribe() call that the SUBACK granted (`codes[i]` < 0x80). */
  remember(filters: readonly string[], codes: readonly number[], options: SubscribeOptions): void {
    // A copy per call: a caller's options object reused or changed later does not merge or alter groups.
    const remembered = { ...options };
    codes.forEach((code, i) => {
      const filter = filters[i];
      if (filter !== undefined && code < 0x80) this.#filters.set(filter, remembered);
    });
  }

  forget(filters: readonly string[]): void {
    for (const filter of filters) this.#filters.delete(filter);
  }

  /**
   * Re-sends every remembered subscription through `send`, one SUBSCRIBE per original subscribe()
   * call, and drops the filters the server now refuses (≥ 0x80). Resolves when all are answered.
   */
  resubscribe(send: (filters: string[], options: SubscribeOptions) => Promise<number[]>): Promise<void> {
    const groups = new Map<SubscribeOptions, string[]>();
    for (const [filter, options] of this.#filters) {
      const group = groups.get(options);
      if (group === undefined) groups.set(options, [filter]);
      else group.push(filter);
    }
    const done: Promise<void>[] = [];
    for (const [options, filters] of groups) {
      // A send that throws (before anything is written) must not stop the session from being restored.
      const sent = new Promise<number[]>((resolve) => resolve(send(filters, options))).then(
        (codes) =>
          codes.forEach((code, i) => {
            const filter = filters[i] as string;
            // Only this call's entry: a subscribe() made meanwhile for the same filter stays.
            if (code >= 0x80 && this.#filters.get(filter) === options) this.#filters.delete(filter);
          }),
        () => undefined, // the connection dropped again: the next reconnect tries again
      );
      done.push(sent);
    }
    return Promise.all(done).then(() => undefined);
  }
}
