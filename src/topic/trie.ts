// The subscription index: topic filters in a trie of levels, one Map per node, wildcards in their
// own slots so matching a topic walks only the branches that can match. Shared subscriptions sit in
// the same nodes, grouped by share name, and are reported per group so the broker picks one member.
//
// The broker routes the same topics over and over, so `match` results are cached per topic name and
// the whole cache is dropped on any add/remove: subscription changes are rare next to publishes, and
// a cache that is always either right or empty needs no reasoning about partial invalidation.

import { MoatError } from '../codec/errors.js';
import { ReasonCode } from '../codec/reason-codes.js';
import { SharedGroup, type TrieEntry } from './shared-group.js';
import { parseSharedFilter, validateTopicFilter } from './validate.js';

export interface MatchResult<T> {
  /** Non-shared subscriptions matching the topic: deliver to each. One per (client, filter). */
  readonly entries: ReadonlyArray<TrieEntry<T>>;
  /** Shared subscriptions matching the topic: deliver to one member of each (`group.next()`). */
  readonly groups: ReadonlyArray<SharedGroup<T>>;
}

export interface SubscriptionTrieOptions {
  /** Topics whose match results are kept; 0 disables the cache. Default 4096. */
  cacheSize?: number;
  /**
   * Results with more matches than this are not cached: collecting them costs little next to
   * delivering to that many subscribers, and caching them would multiply memory by the topic count.
   * Default 256.
   */
  maxCachedMatches?: number;
}

class TrieNode<T> {
  /** Literal levels (including the empty level of `a//b`). */
  children: Map<string, TrieNode<T>> | undefined;
  /** The `+` child. */
  plus: TrieNode<T> | undefined;
  /** The `#` child; always a leaf. */
  hash: TrieNode<T> | undefined;
  /** Non-shared subscriptions ending here, by client id. */
  entries: Map<string, TrieEntry<T>> | undefined;
  /** Shared subscriptions ending here, by share name. */
  groups: Map<string, SharedGroup<T>> | undefined;

  isEmpty(): boolean {
    return (
      (this.children === undefined || this.children.size === 0) &&
      this.plus === undefined &&
      this.hash === undefined &&
      (this.entries === undefined || this.entries.size === 0) &&
      (this.groups === undefined || this.groups.size === 0)
    );
  }
}

const EMPTY: MatchResult<never> = Object.freeze({ entries: Object.freeze([]), groups: Object.freeze([]) });
const DOLLAR = 0x24;

export class SubscriptionTrie<T> {
  readonly #root = new TrieNode<T>();
  readonly #cache = new Map<string, MatchResult<T>>();
  readonly #cacheSize: number;
  readonly #maxCachedMatches: number;
  #size = 0;
  #sharedSize = 0;

  constructor(options: SubscriptionTrieOptions = {}) {
    this.#cacheSize = options.cacheSize ?? 4096;
    this.#maxCachedMatches = options.maxCachedMatches ?? 256;
  }

  /** Stored subscriptions, shared members included. */
  get size(): number {
    return this.#size;
  }

  /** Stored shared subscriptions (members of `$share/` groups), part of `size`. */
  get sharedSize(): number {
    return this.#sharedSize;
  }

  /**
   * Store `value` for `clientId` under `filter` (plain or `$share/{group}/{filter}`). Returns true if
   * the client had no subscription with this exact filter; otherwise replaces its value and returns
   * false. Throws a MoatError (MOAT_ERR_INVALID_TOPIC_FILTER) for an invalid filter: the broker
   * validates first, so this guards the structure, not the protocol.
   */
  add(filter: string, clientId: string, value: T): boolean {
    const problem = validateTopicFilter(filter);
    if (problem !== undefined) {
      throw new MoatError('MOAT_ERR_INVALID_TOPIC_FILTER', problem, { reasonCode: ReasonCode.TopicFilterInvalid });
    }
    const shared = parseSharedFilter(filter);
    let node = this.#root;
    for (const level of (shared?.filter ?? filter).split('/')) node = child(node, level);

    const entry: TrieEntry<T> = { clientId, value, filter };
    let added: boolean;
    if (shared === undefined) {
      node.entries ??= new Map();
      added = !node.entries.has(clientId);
      node.entries.set(clientId, entry);
    } else {
      node.groups ??= new Map();
      let group = node.groups.get(shared.group);
      if (group === undefined) {
        group = new SharedGroup<T>(shared.group, shared.filter);
        node.groups.set(shared.group, group);
      }
      added = group.set(entry);
    }
    if (added) {
      this.#size++;
      if (shared !== undefined) this.#sharedSize++;
    }
    this.#cache.clear();
    return added;
  }

  /** Remove `clientId`'s subscription with exactly this filter. Returns true if there was one. */
  remove(filter: string, clientId: string): boolean {
    const shared = parseSharedFilter(filter);
    const levels = (shared?.filter ?? filter).split('/');
    // Walk down remembering the path, so empty nodes can be pruned on the way back up.
    const path: Array<TrieNode<T>> = [this.#root];
    let node: TrieNode<T> | undefined = this.#root;
    for (const level of levels) {
      node = level === '+' ? node.plus : level === '#' ? node.hash : node.children?.get(level);
      if (node === undefined) return false;
      path.push(node);
    }

    let removed: boolean;
    if (shared === undefined) {
      removed = node.entries?.delete(clientId) ?? false;
    } else {
      const group = node.groups?.get(shared.group);
      removed = group?.delete(clientId) ?? false;
      if (group !== undefined && group.size === 0) node.groups?.delete(shared.group);
    }
    if (!removed) return false;

    this.#size--;
    if (shared !== undefined) this.#sharedSize--;
    this.#cache.clear();
    for (let i = levels.length; i > 0; i--) {
      const current = path[i];
      const parent = path[i - 1];
      if (current === undefined || parent === undefined || !current.isEmpty()) break;
      const level = levels[i - 1] as string;
      if (level === '+') parent.plus = undefined;
      else if (level === '#') parent.hash = undefined;
      else parent.children?.delete(level);
    }
    return true;
  }

  /** Remove every subscription of `clientId` under `filters` (the broker knows a session's filters). */
  removeClient(clientId: string, filters: Iterable<string>): number {
    let removed = 0;
    for (const filter of filters) if (this.remove(filter, clientId)) removed++;
    return removed;
  }

  /**
   * Subscriptions matching topic name `topic`. The result may be shared with later calls (it is
   * cached): treat it as read-only. It stays valid after the trie changes, but then describes the
   * old subscriptions, except that shared groups are live objects.
   */
  match(topic: string): MatchResult<T> {
    const cached = this.#cache.get(topic);
    if (cached !== undefined) return cached;

    const entries: Array<TrieEntry<T>> = [];
    const groups: Array<SharedGroup<T>> = [];
    collect(this.#root, topic.split('/'), topic.charCodeAt(0) === DOLLAR, entries, groups);
    const result: MatchResult<T> = entries.length === 0 && groups.length === 0 ? EMPTY : { entries, groups };

    if (this.#cacheSize > 0 && entries.length + groups.length <= this.#maxCachedMatches) {
      // FIFO eviction: Map keeps insertion order, and an LRU's reordering on every hit costs more
      // than it saves for a broker's mostly-stable topic set.
      if (this.#cache.size >= this.#cacheSize) {
        const oldest = this.#cache.keys().next();
        if (oldest.done !== true) this.#cache.delete(oldest.value);
      }
      this.#cache.set(topic, result);
    }
    return result;
  }
}

function child<T>(node: TrieNode<T>, level: string): TrieNode<T> {
  if (level === '+') return (node.plus ??= new TrieNode<T>());
  if (level === '#') return (node.hash ??= new TrieNode<T>());
  node.children ??= new Map();
  let next = node.children.get(level);
  if (next === undefined) {
    next = new TrieNode<T>();
    node.children.set(level, next);
  }
  return next;
}

/**
 * Every subscription matching the topic split into `levels`. Iterative with an explicit stack, so a
 * topic of thousands of levels costs heap, never the call stack. `dollar`: the topic starts with
 * `$`, so a wildcard in the first level of a filter must not match it [MQTT-4.7.2-1]. Exact
 * children are visited before `+` ones, the order a recursive walk would give.
 */
function collect<T>(root: TrieNode<T>, levels: readonly string[], dollar: boolean, entries: Array<TrieEntry<T>>, groups: Array<SharedGroup<T>>): void {
  const nodes: Array<TrieNode<T>> = [root];
  const depths: number[] = [0];
  while (nodes.length > 0) {
    const node = nodes.pop() as TrieNode<T>;
    const i = depths.pop() as number;
    const wildcardsAllowed = i > 0 || !dollar;
    // `#` matches the parent level too, so `sport/#` matches `sport` [MQTT-4.7.1-1].
    if (node.hash !== undefined && wildcardsAllowed) take(node.hash, entries, groups);
    if (i === levels.length) {
      take(node, entries, groups);
      continue;
    }
    // Pushed in reverse: the exact child is popped (visited) first.
    if (node.plus !== undefined && wildcardsAllowed) {
      nodes.push(node.plus);
      depths.push(i + 1);
    }
    const next = node.children?.get(levels[i] as string);
    if (next !== undefined) {
      nodes.push(next);
      depths.push(i + 1);
    }
  }
}

function take<T>(node: TrieNode<T>, entries: Array<TrieEntry<T>>, groups: Array<SharedGroup<T>>): void {
  if (node.entries !== undefined) for (const entry of node.entries.values()) entries.push(entry);
  if (node.groups !== undefined) for (const group of node.groups.values()) groups.push(group);
}
