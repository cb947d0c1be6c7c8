// One shared subscription ($share/{group}/{filter}): the members among which each matching message
// goes to exactly one. The trie owns membership; the broker only calls next().

/** One stored subscription, as `match` reports it. Immutable: replacing a value makes a new entry. */
export interface TrieEntry<T> {
  readonly clientId: string;
  readonly value: T;
  /** The filter exactly as given to `add`, `$share/{group}/` prefix included. */
  readonly filter: string;
}

export class SharedGroup<T> {
  /** The ShareName. */
  readonly name: string;
  /** The topic filter after `$share/{name}/`. */
  readonly filter: string;
  // An array, not just the map, so round-robin has an order and a cursor; groups are small.
  readonly #list: Array<TrieEntry<T>> = [];
  #cursor = 0;

  constructor(name: string, filter: string) {
    this.name = name;
    this.filter = filter;
  }

  get size(): number {
    return this.#list.length;
  }

  /** Members in join order. */
  get members(): ReadonlyArray<TrieEntry<T>> {
    return this.#list;
  }

  /**
   * The next member in round-robin order for which `isAvailable` (if given) returns true, or
   * undefined when none is. The broker passes a check such as "connected and not over its queue".
   */
  next(isAvailable?: (member: TrieEntry<T>) => boolean): TrieEntry<T> | undefined {
    const list = this.#list;
    const n = list.length;
    for (let k = 0; k < n; k++) {
      const i = (this.#cursor + k) % n;
      const member = list[i];
      if (member !== undefined && (isAvailable === undefined || isAvailable(member))) {
        this.#cursor = (i + 1) % n;
        return member;
      }
    }
    return undefined;
  }

  /** @internal Used by SubscriptionTrie. Returns true if the client was not a member yet. */
  set(entry: TrieEntry<T>): boolean {
    const i = this.#indexOf(entry.clientId);
    if (i === -1) {
      this.#list.push(entry);
      return true;
    }
    this.#list[i] = entry; // keep its place in the rotation
    return false;
  }

  /** @internal Used by SubscriptionTrie. Returns true if the client was a member. */
  delete(clientId: string): boolean {
    const i = this.#indexOf(clientId);
    if (i === -1) return false;
    this.#list.splice(i, 1);
    // Keep pointing at the member that was next, so removal does not skip anyone.
    if (i < this.#cursor) this.#cursor--;
    if (this.#cursor >= this.#list.length) this.#cursor = 0;
    return true;
  }

  #indexOf(clientId: string): number {
    const list = this.#list;
    for (let i = 0; i < list.length; i++) if (list[i]?.clientId === clientId) return i;
    return -1;
  }
}
