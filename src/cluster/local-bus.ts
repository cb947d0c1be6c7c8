// The bus of one process. A LocalBus on its own (the default) is a cluster of one node: publish
// reaches nobody, and nobody claims sessions. Several LocalBus on one LocalHub are nodes of an
// in-process cluster, which is how the Bus contract and the engine's cluster behaviour are tested
// without Redis; delivery is synchronous and in order, so no duplicates arise.
import { randomBytes } from 'node:crypto';
import { parseSharedFilter } from '../topic/validate.js';
import { filterMatches } from '../topic/filter-matches.js';
import type { StoredMessage } from '../store/store.js';
import type { Bus, BusHandlers } from './bus.js';
import { Deduper } from './deduper.js';

/** A node id unique to this process start: a restarted node is a new node, its sequence starts afresh. */
export function newNodeId(): string {
  return `node-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** The nodes of one in-process cluster. */
export class LocalHub {
  readonly #nodes = new Set<LocalBus>();

  join(bus: LocalBus): void {
    this.#nodes.add(bus);
  }

  leave(bus: LocalBus): void {
    this.#nodes.delete(bus);
  }

  /** More than one node: anything to send at all (checked per message, so it must cost nothing). */
  get shared(): boolean {
    return this.#nodes.size > 1;
  }

  /** The other nodes. */
  others(bus: LocalBus): LocalBus[] {
    return [...this.#nodes].filter((node) => node !== bus);
  }
}

export class LocalBus implements Bus {
  readonly nodeId: string;
  readonly #hub: LocalHub;
  /** filter -> how many local subscriptions hold it. */
  readonly #interest = new Map<string, number>();
  readonly #deduper = new Deduper();
  #handlers: BusHandlers | undefined;
  #seq = 0;
  #closed = false;

  constructor(options: { hub?: LocalHub; nodeId?: string } = {}) {
    this.nodeId = options.nodeId ?? newNodeId();
    this.#hub = options.hub ?? new LocalHub();
    this.#hub.join(this);
  }

  attach(handlers: BusHandlers): void {
    this.#handlers = handlers;
  }

  publish(message: StoredMessage): void {
    if (this.#closed || !this.#hub.shared) return;
    let seq: number | undefined;
    for (const node of this.#hub.others(this)) {
      if (!node.#matches(message.topic)) continue;
      seq ??= ++this.#seq;
      node.#receive(this.nodeId, seq, message);
    }
  }

  addInterest(filter: string): void {
    this.#interest.set(filter, (this.#interest.get(filter) ?? 0) + 1);
  }

  removeInterest(filter: string): void {
    const count = this.#interest.get(filter);
    if (count === undefined) return;
    if (count <= 1) this.#interest.delete(filter);
    else this.#interest.set(filter, count - 1);
  }

  othersInterested(topic: string): boolean {
    if (!this.#hub.shared) return false;
    for (const node of this.#hub.others(this)) if (node.#matches(topic)) return true;
    return false;
  }

  claimSession(clientId: string): void {
    if (this.#closed || !this.#hub.shared) return;
    const seq = ++this.#seq;
    for (const node of this.#hub.others(this)) node.#claimed(this.nodeId, seq, clientId);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#hub.leave(this);
    this.#interest.clear();
    return Promise.resolve();
  }

  #matches(topic: string): boolean {
    for (const filter of this.#interest.keys()) {
      const shared = parseSharedFilter(filter);
      if (filterMatches(shared === undefined ? filter : shared.filter, topic)) return true;
    }
    return false;
  }

  #receive(node: string, seq: number, message: StoredMessage): void {
    if (this.#closed || !this.#deduper.accept(node, seq)) return;
    this.#handlers?.message({ node, seq, message });
  }

  #claimed(node: string, seq: number, clientId: string): void {
    if (this.#closed || !this.#deduper.accept(node, seq)) return;
    this.#handlers?.claim({ node, seq, clientId });
  }
}
