// The memory store: the Store contract on plain Maps, nothing survives the process (Mosquitto with
// `persistence false`). Not durable, so flush() resolves at once and acknowledgements never wait,
// and the engine does not write sessions through it (its own Session objects are that copy).
// `{ durable: true }` makes it act as a durable store would for the engine (every session change
// written through, acknowledgements after flush, sessions loaded at CONNECT): tests use it to
// restart a broker on the same store within one process.
import type { InflightRecord, QueuedRecord, SessionRecord, Store, StoredMessage, StoredSession } from './store.js';
import { RetainedCache } from './retained-cache.js';

interface SessionState<M extends StoredMessage> {
  record: SessionRecord;
  readonly queued: Map<number, QueuedRecord<M>>;
  readonly inflight: Map<number, InflightRecord<M>>;
  readonly awaitingPubrel: Set<number>;
}

export class MemoryStore<M extends StoredMessage = StoredMessage> implements Store<M> {
  readonly durable: boolean;
  readonly #retained = new RetainedCache<M>();
  readonly #sessions = new Map<string, SessionState<M>>();

  constructor(options: { durable?: boolean } = {}) {
    this.durable = options.durable ?? false;
  }

  putRetained(message: M): void {
    this.#retained.set(message);
  }

  deleteRetained(topic: string): void {
    this.#retained.delete(topic);
  }

  /** Nothing is ever waiting: a write is done when it is made (durable or not, there is no disk). */
  readonly pending: boolean = false;

  getRetained(topic: string): M | undefined {
    return this.#retained.get(topic);
  }

  matchRetained(filter: string): Iterable<M> {
    return this.#retained.match(filter);
  }

  get retainedCount(): number {
    return this.#retained.count;
  }

  get retainedBytes(): number {
    return this.#retained.bytes;
  }

  saveSession(record: SessionRecord): void {
    const state = this.#sessions.get(record.clientId);
    if (state === undefined) this.#sessions.set(record.clientId, { record, queued: new Map(), inflight: new Map(), awaitingPubrel: new Set() });
    else state.record = record;
  }

  deleteSession(clientId: string): void {
    this.#sessions.delete(clientId);
  }

  loadSession(clientId: string): Promise<StoredSession<M> | undefined> {
    const state = this.#sessions.get(clientId);
    if (state === undefined) return Promise.resolve(undefined);
    return Promise.resolve({
      session: state.record,
      queued: [...state.queued.values()].sort((a, b) => a.id - b.id),
      inflight: [...state.inflight.values()].sort((a, b) => a.packetId - b.packetId),
      awaitingPubrel: [...state.awaitingPubrel].sort((a, b) => a - b),
    });
  }

  async *sessions(): AsyncIterable<SessionRecord> {
    for (const state of [...this.#sessions.values()]) yield state.record;
  }

  enqueue(clientId: string, entry: QueuedRecord<M>): void {
    this.#state(clientId)?.queued.set(entry.id, entry);
  }

  dequeue(clientId: string, id: number): void {
    this.#sessions.get(clientId)?.queued.delete(id);
  }

  putInflight(clientId: string, record: InflightRecord<M>): void {
    this.#state(clientId)?.inflight.set(record.packetId, record);
  }

  deleteInflight(clientId: string, packetId: number): void {
    this.#sessions.get(clientId)?.inflight.delete(packetId);
  }

  putAwaitingPubrel(clientId: string, packetId: number): void {
    this.#state(clientId)?.awaitingPubrel.add(packetId);
  }

  deleteAwaitingPubrel(clientId: string, packetId: number): void {
    this.#sessions.get(clientId)?.awaitingPubrel.delete(packetId);
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#retained.clear();
    this.#sessions.clear();
    return Promise.resolve();
  }

  /** Queue and in-flight writes belong to a saved session; for one never saved they are ignored, as the contract says. */
  #state(clientId: string): SessionState<M> | undefined {
    return this.#sessions.get(clientId);
  }
}
