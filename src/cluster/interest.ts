// What one node knows of the cluster's interest: every other node's filters, and this node's own
// `$share/` filters (a group is chosen among all the nodes holding it, this node included). Per
// message it says which other nodes get an envelope and which node delivers to each shared group,
// so both buses (local-bus.ts, redis-bus.ts) route the same way.
import { SubscriptionTrie } from '../topic/trie.js';

export interface Plan {
  /** The other nodes that get an envelope, each with the `$share/` filters it is chosen to deliver to. */
  readonly targets: ReadonlyMap<string, string[]>;
  /** What this node delivers to, as Bus.publish returns it. */
  readonly own: readonly string[] | undefined;
}

const NOBODY: ReadonlyMap<string, string[]> = new Map();
const NOWHERE: Plan = { targets: NOBODY, own: undefined };

export class ClusterInterest {
  readonly self: string;
  /** Node ids are the trie's client ids; each (node, filter) is one entry. */
  readonly #trie = new SubscriptionTrie<string>();
  readonly #filters = new Map<string, Set<string>>();
  /** Filters held by other nodes: none means no message needs to leave this node. */
  #others = 0;

  constructor(self: string) {
    this.self = self;
  }

  /** Whether any other node holds any filter (checked per message: nothing else is done when not). */
  get othersHold(): boolean {
    return this.#others > 0;
  }

  /** Another node's filter, or one of this node's own (kept only when `$share/`). */
  add(node: string, filter: string): void {
    if (node === this.self && !filter.startsWith('$share/')) return;
    let set = this.#filters.get(node);
    if (set === undefined) this.#filters.set(node, (set = new Set()));
    if (set.has(filter)) return;
    set.add(filter);
    this.#trie.add(filter, node, node);
    if (node !== this.self) this.#others++;
  }

  remove(node: string, filter: string): void {
    const set = this.#filters.get(node);
    if (set === undefined || !set.delete(filter)) return;
    this.#trie.remove(filter, node);
    if (node !== this.self) this.#others--;
    if (set.size === 0) this.#filters.delete(node);
  }

  /** Replaces everything known of `node` by `filters` (a node loaded afresh). */
  replace(node: string, filters: Iterable<string>): void {
    this.drop(node);
    for (const filter of filters) this.add(node, filter);
  }

  /** The node left: its filters are gone. */
  drop(node: string): void {
    const set = this.#filters.get(node);
    if (set === undefined) return;
    for (const filter of [...set]) this.remove(node, filter);
  }

  filtersOf(node: string): ReadonlySet<string> {
    return this.#filters.get(node) ?? new Set();
  }

  /**
   * Where a message on `topic` goes. Each shared group matching it is given to one of its holders,
   * round robin per `$share/GROUP/FILTER` (SharedGroup.next over node ids).
   */
  plan(topic: string): Plan {
    const match = this.#trie.match(topic);
    if (match.entries.length === 0 && match.groups.length === 0) return NOWHERE;
    let targets: Map<string, string[]> | undefined;
    for (const entry of match.entries) {
      if (entry.clientId === this.self) continue;
      targets ??= new Map();
      if (!targets.has(entry.clientId)) targets.set(entry.clientId, []);
    }
    let own: string[] | undefined;
    if (match.groups.length > 0) {
      own = [];
      for (const group of match.groups) {
        const holder = group.next();
        if (holder === undefined) continue;
        if (holder.clientId === this.self) {
          own.push(holder.filter);
          continue;
        }
        targets ??= new Map();
        const list = targets.get(holder.clientId);
        if (list === undefined) targets.set(holder.clientId, [holder.filter]);
        else list.push(holder.filter);
      }
    }
    return { targets: targets ?? NOBODY, own };
  }

  /** Whether another node holds a filter matching `topic` (`$share/` ones by their inner filter). */
  othersInterested(topic: string): boolean {
    if (this.#others === 0) return false;
    const match = this.#trie.match(topic);
    for (const entry of match.entries) if (entry.clientId !== this.self) return true;
    for (const group of match.groups) for (const member of group.members) if (member.clientId !== this.self) return true;
    return false;
  }
}
