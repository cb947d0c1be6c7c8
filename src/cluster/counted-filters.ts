// A node's interest, counted: two local subscribers of `a/#` are one filter, which stays until both
// have gone. add/remove say when the set of filters itself changed, which is all a bus announces.
export class CountedFilters {
  readonly #counts = new Map<string, number>();

  /** True when `filter` is new to the set. */
  add(filter: string): boolean {
    const count = this.#counts.get(filter) ?? 0;
    this.#counts.set(filter, count + 1);
    return count === 0;
  }

  /** True when the last holder of `filter` has gone (false for an unknown filter). */
  remove(filter: string): boolean {
    const count = this.#counts.get(filter);
    if (count === undefined) return false;
    if (count > 1) {
      this.#counts.set(filter, count - 1);
      return false;
    }
    this.#counts.delete(filter);
    return true;
  }

  keys(): IterableIterator<string> {
    return this.#counts.keys();
  }

  get size(): number {
    return this.#counts.size;
  }

  clear(): void {
    this.#counts.clear();
  }
}
