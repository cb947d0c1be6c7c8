// The bus of one process. A LocalBus on its own (the default) is a cluster of one node: publish
// reaches nobody, and nobody claims sessions. Several LocalBus on one LocalHub are nodes of an
// in-process cluster, which is how the Bus contract and the engine's cluster behaviour are tested
// without Redis; delivery is synchronous and in order, so no duplicates arise. Shared groups are
// chosen cluster-wide as on every bus (interest.ts); nodes never die unnoticed, so no nodeLost.
import { randomBytes } from 'node:crypto';
import type { StoredMessage } from '../store/store.js';
import { CountedFilters } from './counted-filters.js';
import type { Bus, BusHandlers } from './bus.js';
import { Deduper } from './deduper.js';
import { ClusterInterest } from './interest.js';

/** A node id unique to this process start: a restarted node is a new node, its sequence starts afresh. */
export function newNodeId(): string {
  return `node-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** The nodes of one in-process cluster. */
export class LocalHub {
  readonly #nodes = new Map<string, LocalBus>();

  join(bus: LocalBus): void {
    this.#nodes.set(bus.nodeId, bus);
  }

  leave(bus: LocalBus): void {
    if (this.#nodes.get(bus.nodeId) === bus) this.#nodes.delete(bus.nodeId);
  }

  node(id: string): LocalBus | undefined {
    return this.#nodes.get(id);
  }

  /** Every node, `bus` included. */
  all(): IterableIterator<LocalBus> {
    return this.#nodes.values();
  }
}

export class LocalBus implements Bus {
  readonly nodeId: string;
  readonly #hub: LocalHub;
  /** filter -> how many local subscriptions hold it. */
  readonly #interest = new CountedFilters();
  /** The cluster's interest as this node sees it (the others' filters, its own `$share/` ones). */
  readonly #view: ClusterInterest;
  readonly #deduper = new Deduper();
  #handlers: BusHandlers | undefined;
  #seq = 0;
  #closed = false;

  constructor(options: { hub?: LocalHub; nodeId?: string } = {}) {
    this.nodeId = options.nodeId ?? newNodeId();
    this.#hub = options.hub ?? new LocalHub();
    this.#view = new ClusterInterest(this.nodeId);
    for (const node of this.#hub.all()) for (const filter of node.#interest.keys()) this.#view.add(node.nodeId, filter);
    this.#hub.join(this);
  }

  attach(handlers: BusHandlers): void {
    this.#handlers = handlers;
  }

  publish(message: StoredMessage): readonly string[] | undefined {
    if (this.#closed || !this.#view.othersHold) return undefined;
    const plan = this.#view.plan(message.topic);
    if (plan.targets.size > 0) {
      const seq = ++this.#seq;
      for (const [id, shared] of plan.targets) {
        const node = this.#hub.node(id);
        if (node !== undefined) node.#receive(this.nodeId, seq, message, shared);
      }
    }
    return plan.own;
  }

  addInterest(filter: string): void {
    if (this.#interest.add(filter) && !this.#closed) for (const node of this.#hub.all()) node.#view.add(this.nodeId, filter);
  }

  removeInterest(filter: string): void {
    if (this.#interest.remove(filter)) for (const node of this.#hub.all()) node.#view.remove(this.nodeId, filter);
  }

  othersInterested(topic: string): boolean {
    return this.#view.othersInterested(topic);
  }

  claimSession(clientId: string): void {
    if (this.#closed) return;
    let seq: number | undefined;
    for (const node of this.#hub.all()) {
      if (node === this) continue;
      seq ??= ++this.#seq;
      node.#claimed(this.nodeId, seq, clientId);
    }
  }

  /** Nothing to record: a LocalBus node leaves only by close(), so no other node asks what it held. */
  releaseSession(_clientId: string): void {}

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#hub.leave(this);
    for (const node of this.#hub.all()) {
      node.#view.drop(this.nodeId);
      node.#deduper.forget(this.nodeId);
    }
    this.#interest.clear();
    return Promise.resolve();
  }

  #receive(node: string, seq: number, message: StoredMessage, sharedFilters: readonly string[]): void {
    if (this.#closed || !this.#deduper.accept(node, seq)) return;
    this.#handlers?.message({ node, seq, message, sharedFilters });
  }

  #claimed(node: string, seq: number, clientId: string): void {
    if (this.#closed || !this.#deduper.accept(node, seq)) return;
    this.#handlers?.claim({ node, seq, clientId });
  }
}
