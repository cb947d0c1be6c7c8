// The Redis store: the Store contract on a Redis several moat nodes share, so a client that
// reconnects to another node finds its session, queue and in-flight messages there, and every node
// has the same retained messages (issue 13).
//
// Writes are recorded in call order and sent as one MULTI at flush() or at the end of the
// event-loop turn of the first write, whichever comes first (one group per turn, atomic on a single
// Redis; a Redis Cluster gets them as separate commands: the keys of a group span slots). flush()
// resolves when Redis has replied to everything recorded before it.
//
// Keys (P = prefix, default 'moat:'; E = the client id in base64url, so any UTF-8 id makes an
// unambiguous key, and the {E} hash tag keeps one session's keys in one Cluster slot):
//   P{E}:session   the SessionRecord            P{E}:queue     hash id -> QueuedRecord
//   P{E}:inflight  hash packet id -> record      P{E}:pubrel    set of packet ids awaiting PUBREL
//   Psessions      set of every client id        Pretained      hash topic -> StoredMessage
// Queue, in-flight and PUBREL writes go through Lua scripts that write only while the session key
// exists: a session another node deleted takes no more writes.
//
// Retained messages are read synchronously, so every node caches them (loaded at open). Each put
// or delete is PUBLISHed on the channel Pretained in the same MULTI; every store applies the others'
// changes in Redis's order. A topic this store has written and whose own change has not come back
// on the channel keeps the local value (that write is later in Redis's order than what arrives
// meanwhile). Whenever a connection was lost, the whole cache is reloaded once both are back.
//
// Redis unreachable: no offline queue, no resending, a command timeout, so a flush or a session load
// fails within seconds instead of waiting; both connections retry with a capped back-off for ever.
import { randomUUID } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import type { RedisOptions } from 'ioredis';
import type { Logger } from '../broker/logger.js';
import { connectRedis, parseRedisUrl, type RedisConnection, type RedisTarget } from '../cluster/redis-connection.js';
import { MoatError } from '../codec/errors.js';
import { decodeInflight, decodeMessage, decodeQueued, encodeInflight, encodeMessage, encodeQueued, storedFields } from './encoding.js';
import type { InflightRecord, QueuedRecord, SessionRecord, Store, StoredMessage, StoredSession } from './store.js';
import { RetainedCache } from './retained-cache.js';

export interface RedisStoreOptions {
  /** Key and channel prefix, so several moat clusters can share one Redis; default 'moat:'. Without '{' or '}': the hash tag of a session's keys must be the client id's. */
  readonly prefix?: string;
  readonly logger?: Pick<Logger, 'info' | 'warn'>;
  /** How long open() waits for Redis before it gives up; default 10 s. */
  readonly connectTimeoutMs?: number;
  /** How long one command may wait for Redis's reply; default 5 s. */
  readonly commandTimeoutMs?: number;
}

/** The commands a write records, on a MULTI (single Redis) or on the connection (Cluster). */
interface Commands {
  set(key: string, value: Buffer): unknown;
  del(...keys: string[]): unknown;
  hset(key: string, field: string, value: Buffer): unknown;
  hdel(key: string, field: string): unknown;
  sadd(key: string, member: string): unknown;
  srem(key: string, member: string): unknown;
  publish(channel: string, message: Buffer): unknown;
  moatHsetIfSession(sessionKey: string, hashKey: string, field: string, value: Buffer): unknown;
  moatSaddIfSession(sessionKey: string, setKey: string, member: string): unknown;
}

/** A recorded write: its commands on `commands`, what they return (a Cluster's replies) listed. */
type Write = (commands: Commands) => unknown[];

/** A retained change as published on the channel: `message` undefined is a delete. */
interface RetainedChange {
  readonly from: string;
  readonly seq: number;
  readonly topic: string;
  readonly message: StoredMessage | undefined;
}

/** One group sent: settled once Redis replied; `error` set when it failed. */
interface Commit {
  done: Promise<void>;
  error: MoatError | undefined;
  /** A flush() waits for it and reports its failure; else the next flush() does. */
  awaited: boolean;
}

const SCRIPTS = {
  moatHsetIfSession: "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end return -1",
  moatSaddIfSession: "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('SADD', KEYS[2], ARGV[1]) end return -1",
};

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Capped back-off between reconnection attempts: 100 ms doubling to 2 s, for ever. */
const retryStrategy = (attempt: number): number => Math.min(100 * 2 ** Math.min(attempt - 1, 5), 2000);

function waitReady(connection: RedisConnection, ms: number): Promise<void> {
  if (connection.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      connection.off('ready', ready);
      reject(new MoatError('MOAT_ERR_STORE_UNAVAILABLE', `no connection within ${ms} ms`));
    }, ms);
    const ready = (): void => {
      clearTimeout(timer);
      resolve();
    };
    connection.once('ready', ready);
  });
}

export class RedisStore<M extends StoredMessage = StoredMessage> implements Store<M> {
  readonly durable = true;
  /** The URL without its password, for logs and errors. */
  readonly display: string;
  readonly prefix: string;
  readonly #redis: RedisConnection;
  readonly #subscriber: RedisConnection;
  readonly #logger: Pick<Logger, 'info' | 'warn'> | undefined;
  readonly #instance = randomUUID();
  readonly #channel: string;
  readonly #retainedKey: string;
  readonly #sessionsKey: string;

  readonly #retained = new RetainedCache<M>();
  /** Own retained changes sent or to be sent whose echo on the channel has not arrived: topic -> their seqs. */
  readonly #pendingOwn = new Map<string, Set<number>>();
  #seq = 0;
  /** Changes arriving while the cache reloads, applied after it. */
  #buffered: RetainedChange[] | undefined;
  /** The cache may have missed changes (a connection was lost, a commit failed): reload it once connected. */
  #stale = false;
  #resyncing = false;
  #resyncTimer: NodeJS.Timeout | undefined;

  #writes: Write[] = [];
  /** The retained changes of #writes: their pending marks are dropped if the commit fails. */
  #writesRetained: Array<[string, number]> = [];
  #commitScheduled = false;
  /** Groups sent whose reply has not come. */
  readonly #unsettled = new Set<Commit>();
  /** A commit at the end of a turn that failed: the next flush() rejects with it. */
  #failure: MoatError | undefined;
  #closed = false;
  /** Settled when the turn's group has been sent (the flush() calls of the turn wait for it). */
  #turnSent: Promise<void> | undefined;
  #turnSentResolve: (() => void) | undefined;

  #connected = false;
  /** What the connections last failed with (refused, a wrong password…), for the messages that say Redis is out of reach. */
  #lastError: string | undefined;
  readonly #statusListeners = new Set<(up: boolean) => void>();

  /** Connects to `url`, loads the retained messages and subscribes to their changes; rejects with MOAT_ERR_STORE_UNAVAILABLE if Redis cannot be reached in time. */
  static async open<M extends StoredMessage = StoredMessage>(url: string | RedisTarget, options: RedisStoreOptions = {}): Promise<RedisStore<M>> {
    const store = new RedisStore<M>(typeof url === 'string' ? parseRedisUrl(url) : url, options);
    try {
      const ms = options.connectTimeoutMs ?? 10_000;
      await Promise.all([waitReady(store.#redis, ms), waitReady(store.#subscriber, ms)]);
      store.#resyncing = true;
      await store.#load();
      store.#resyncing = false;
      store.#updateStatus();
      store.#resync(); // a connection lost during the load marked it stale
      return store;
    } catch (error) {
      store.#closed = true;
      store.#redis.disconnect();
      store.#subscriber.disconnect();
      throw store.#unavailable('cannot open the store', error);
    }
  }

  private constructor(target: RedisTarget, options: RedisStoreOptions) {
    this.display = target.display;
    this.prefix = options.prefix ?? 'moat:';
    this.#logger = options.logger;
    this.#channel = `${this.prefix}retained`;
    this.#retainedKey = `${this.prefix}retained`;
    this.#sessionsKey = `${this.prefix}sessions`;
    const redisOptions: RedisOptions = {
      // Fail now rather than queue: an acknowledgement or a CONNECT must not wait for Redis to return.
      enableOfflineQueue: false,
      // A command sent when the connection drops fails instead of being resent after it returns.
      maxRetriesPerRequest: 0,
      connectTimeout: Math.min(options.connectTimeoutMs ?? 10_000, 5000),
      commandTimeout: options.commandTimeoutMs ?? 5000,
      retryStrategy,
    };
    this.#redis = connectRedis(target, redisOptions);
    // It resubscribes by itself on reconnect (ioredis autoResubscribe), and again at every reload.
    this.#subscriber = connectRedis(target, redisOptions);
    for (const [name, lua] of Object.entries(SCRIPTS)) this.#redis.defineCommand(name, { numberOfKeys: 2, lua });

    for (const connection of [this.#redis, this.#subscriber]) {
      // An 'error' without a listener would throw; the status change is what gets logged, with the last error.
      connection.on('error', (error: unknown) => {
        this.#lastError = describe(error);
      });
      connection.on('close', () => {
        this.#stale = true;
        this.#updateStatus();
      });
      connection.on('ready', () => this.#updateStatus());
    }
    this.#subscriber.on('messageBuffer', (channel: Buffer, payload: Buffer) => {
      if (channel.toString() === this.#channel) this.#received(payload);
    });
  }

  /** True while both connections (commands and retained changes) are up. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Calls `listener` at every change of `connected`; returns how to stop. */
  onStatus(listener: (up: boolean) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  putRetained(message: M): void {
    if (this.#closed) return;
    this.#retained.set(message);
    const fields = storedFields(message);
    const change = this.#ownChange(message.topic, fields);
    const value = encodeMessage(fields);
    this.#record((c) => [c.hset(this.#retainedKey, message.topic, value), c.publish(this.#channel, change)]);
  }

  deleteRetained(topic: string): void {
    if (this.#closed) return;
    this.#retained.delete(topic);
    const change = this.#ownChange(topic, undefined);
    this.#record((c) => [c.hdel(this.#retainedKey, topic), c.publish(this.#channel, change)]);
  }

  get pending(): boolean {
    return this.#writes.length > 0 || this.#unsettled.size > 0 || this.#failure !== undefined;
  }

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
    if (this.#closed) return;
    const value = serialize(record);
    const key = this.#key(record.clientId, 'session');
    this.#record((c) => [c.set(key, value), c.sadd(this.#sessionsKey, record.clientId)]);
  }

  deleteSession(clientId: string): void {
    if (this.#closed) return;
    const keys = (['session', 'queue', 'inflight', 'pubrel'] as const).map((part) => this.#key(clientId, part));
    this.#record((c) => [c.del(...keys), c.srem(this.#sessionsKey, clientId)]);
  }

  async loadSession(clientId: string): Promise<StoredSession<M> | undefined> {
    if (this.#closed) return undefined;
    // What this store recorded for the client goes first: the load is sent after it, on the same connection.
    this.#commit();
    let replies: Array<[Error | null, unknown]> | null;
    try {
      replies = await this.#redis
        .multi()
        .getBuffer(this.#key(clientId, 'session'))
        .hgetallBuffer(this.#key(clientId, 'queue'))
        .hgetallBuffer(this.#key(clientId, 'inflight'))
        .smembers(this.#key(clientId, 'pubrel'))
        .exec();
      const failed = replies?.find(([error]) => error !== null)?.[0];
      if (replies === null || failed) throw failed ?? new MoatError('MOAT_ERR_STORE_UNAVAILABLE', 'the transaction was discarded');
    } catch (error) {
      throw this.#unavailable(`cannot load the session of client ${JSON.stringify(clientId.slice(0, 200))}`, error);
    }
    const [[, record], [, queue], [, inflight], [, pubrel]] = replies as [[null, Buffer | null], [null, Record<string, Buffer>], [null, Record<string, Buffer>], [null, string[]]];
    if (record === null) return undefined;
    return {
      session: deserialize(record) as SessionRecord,
      queued: Object.values(queue)
        .map((entry) => decodeQueued<M>(entry))
        .sort((a, b) => a.id - b.id),
      inflight: Object.values(inflight)
        .map((entry) => decodeInflight<M>(entry))
        .sort((a, b) => a.packetId - b.packetId),
      awaitingPubrel: pubrel.map(Number).sort((a, b) => a - b),
    };
  }

  async *sessions(): AsyncIterable<SessionRecord> {
    if (this.#closed) return;
    this.#commit();
    // Read whole before yielding: the consumer may write (expire sessions) between items.
    let records: Array<Buffer | null>;
    try {
      const ids = await this.#redis.smembers(this.#sessionsKey);
      records = [];
      for (let start = 0; start < ids.length; start += 500) {
        // One GET per session (not MGET): on a Cluster they live in different slots.
        records.push(...(await Promise.all(ids.slice(start, start + 500).map((id) => this.#redis.getBuffer(this.#key(id, 'session'))))));
      }
    } catch (error) {
      throw this.#unavailable('cannot list the sessions', error);
    }
    for (const record of records) if (record !== null) yield deserialize(record) as SessionRecord;
  }

  enqueue(clientId: string, entry: QueuedRecord<M>): void {
    if (this.#closed) return;
    const [session, queue, value] = [this.#key(clientId, 'session'), this.#key(clientId, 'queue'), encodeQueued(entry)];
    this.#record((c) => [c.moatHsetIfSession(session, queue, String(entry.id), value)]);
  }

  dequeue(clientId: string, id: number): void {
    if (this.#closed) return;
    const queue = this.#key(clientId, 'queue');
    this.#record((c) => [c.hdel(queue, String(id))]);
  }

  putInflight(clientId: string, record: InflightRecord<M>): void {
    if (this.#closed) return;
    const [session, inflight, value] = [this.#key(clientId, 'session'), this.#key(clientId, 'inflight'), encodeInflight(record)];
    this.#record((c) => [c.moatHsetIfSession(session, inflight, String(record.packetId), value)]);
  }

  deleteInflight(clientId: string, packetId: number): void {
    if (this.#closed) return;
    const inflight = this.#key(clientId, 'inflight');
    this.#record((c) => [c.hdel(inflight, String(packetId))]);
  }

  putAwaitingPubrel(clientId: string, packetId: number): void {
    if (this.#closed) return;
    const [session, pubrel] = [this.#key(clientId, 'session'), this.#key(clientId, 'pubrel')];
    this.#record((c) => [c.moatSaddIfSession(session, pubrel, String(packetId))]);
  }

  deleteAwaitingPubrel(clientId: string, packetId: number): void {
    if (this.#closed) return;
    const pubrel = this.#key(clientId, 'pubrel');
    this.#record((c) => [c.srem(pubrel, String(packetId))]);
  }

  /**
   * Resolves once Redis replied to what was recorded and to everything before; rejects with
   * MOAT_ERR_STORE_COMMIT. What this turn recorded goes with the turn's one MULTI at its end, so
   * every PUBLISH of a turn shares one round trip instead of each sending its own.
   */
  async flush(): Promise<void> {
    const failure = this.#failure;
    if (failure !== undefined) {
      this.#failure = undefined;
      throw failure;
    }
    if (this.#writes.length > 0) await (this.#turnSent ??= new Promise<void>((resolve) => (this.#turnSentResolve = resolve)));
    const pending = [...this.#unsettled];
    for (const commit of pending) commit.awaited = true;
    await Promise.all(pending.map((commit) => commit.done));
    const error = pending.find((commit) => commit.error !== undefined)?.error;
    if (error !== undefined) throw error;
  }

  /** Sends what is pending, waits for it (a failure is logged, not thrown: the broker is shutting down), and closes both connections; later writes are ignored. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#resyncTimer);
    this.#commit(); // sent even if flush() reports an earlier failure first
    try {
      await this.flush();
    } catch (error) {
      this.#logger?.warn({ redis: this.display, err: describe(error) }, 'the Redis store closed with writes Redis did not confirm');
    }
    this.#statusListeners.clear();
    await Promise.all([this.#redis, this.#subscriber].map((connection) => (connection.status === 'ready' ? connection.quit().then(() => undefined, () => connection.disconnect()) : connection.disconnect())));
    this.#retained.clear();
  }

  #key(clientId: string, part: 'session' | 'queue' | 'inflight' | 'pubrel'): string {
    return `${this.prefix}{${Buffer.from(clientId, 'utf8').toString('base64url')}}:${part}`;
  }

  /** The channel message of an own retained change, its topic marked pending until it comes back. */
  #ownChange(topic: string, message: StoredMessage | undefined): Buffer {
    const seq = ++this.#seq;
    let pending = this.#pendingOwn.get(topic);
    if (pending === undefined) this.#pendingOwn.set(topic, (pending = new Set()));
    pending.add(seq);
    this.#writesRetained.push([topic, seq]);
    return serialize({ from: this.#instance, seq, topic, message } satisfies RetainedChange);
  }

  #settleOwn(topic: string, seq: number): void {
    const pending = this.#pendingOwn.get(topic);
    if (pending === undefined) return;
    pending.delete(seq);
    if (pending.size === 0) this.#pendingOwn.delete(topic);
  }

  /** Records a write for the turn's group, with its commit at the end of the turn. */
  #record(write: Write): void {
    this.#writes.push(write);
    if (this.#commitScheduled) return;
    this.#commitScheduled = true;
    setImmediate(() => {
      this.#commitScheduled = false;
      this.#commit();
      const sent = this.#turnSentResolve;
      this.#turnSent = undefined;
      this.#turnSentResolve = undefined;
      sent?.();
    });
  }

  /** Sends the recorded writes as one group. */
  #commit(): void {
    if (this.#writes.length === 0) return;
    const writes = this.#writes;
    const retained = this.#writesRetained;
    this.#writes = [];
    this.#writesRetained = [];
    const commit: Commit = { done: Promise.resolve(), error: undefined, awaited: false };
    const settle = (error: unknown): void => {
      this.#unsettled.delete(commit);
      if (error === undefined) return;
      commit.error = new MoatError('MOAT_ERR_STORE_COMMIT', `${this.display}: the Redis store could not commit its writes: ${describe(error)}`, { cause: error });
      // Sent at the end of a turn and not waited for: the next flush() before an acknowledgement reports it.
      if (!commit.awaited) this.#failure ??= commit.error;
      // Their echo may never come; the cache is reloaded from Redis to learn what holds.
      for (const [topic, seq] of retained) this.#settleOwn(topic, seq);
      if (retained.length > 0) this.#markStale();
    };
    commit.done = this.#send(writes).then((errors) => settle(errors[0]), (error: unknown) => settle(error ?? 'failed'));
    this.#unsettled.add(commit);
  }

  /** The writes as one MULTI (Redis, Sentinel) or one command each (Cluster); resolves to the errors of those that failed. */
  async #send(writes: Write[]): Promise<unknown[]> {
    if (this.#redis.isCluster) {
      const commands = this.#redis as unknown as Commands;
      const settled = await Promise.allSettled(writes.flatMap((write) => write(commands)));
      return settled.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
    }
    const multi = this.#redis.multi();
    for (const write of writes) write(multi as unknown as Commands);
    const replies = await multi.exec();
    if (replies === null) return [new MoatError('MOAT_ERR_STORE_COMMIT', 'the transaction was discarded')];
    return replies.flatMap(([error]) => (error === null ? [] : [error]));
  }

  /** A retained change from the channel: applied unless this store wrote the topic since (its write is later). */
  #received(payload: Buffer): void {
    let change: RetainedChange;
    try {
      change = deserialize(payload) as RetainedChange;
    } catch {
      return;
    }
    if (this.#buffered !== undefined) {
      this.#buffered.push(change);
      return;
    }
    this.#apply(change);
  }

  /**
   * `replay`: a change held during a load, applied on the loaded state, where this store's own
   * changes count as values too (the load may hold an older one of another store's).
   */
  #apply(change: RetainedChange, replay = false): void {
    if (change.from === this.#instance) {
      this.#settleOwn(change.topic, change.seq);
      if (!replay) return;
    }
    if (this.#pendingOwn.has(change.topic)) return;
    if (change.message === undefined) this.#retained.delete(change.topic);
    else this.#retained.set(change.message as M);
  }

  /**
   * Reloads the retained cache from Redis. The subscription is up first and changes arriving
   * meanwhile are held, then applied in order on the loaded state: nothing between is missed.
   * Topics with own writes still pending keep their local value.
   */
  async #load(): Promise<void> {
    this.#buffered = [];
    try {
      // Subscribed (again, after a reconnect) before the load: its reply comes once the subscription holds.
      await this.#subscriber.subscribe(this.#channel);
      // Own writes sent before the load are in what it reads (or a later change is, on the channel
      // after it); only those written after it keep their local value.
      this.#commit();
      const sent = this.#seq;
      const rows = await this.#redis.hgetallBuffer(this.#retainedKey);
      for (const [topic, seqs] of this.#pendingOwn) {
        for (const seq of seqs) if (seq <= sent) seqs.delete(seq);
        if (seqs.size === 0) this.#pendingOwn.delete(topic);
      }
      const loaded = new Map<string, M>();
      for (const row of Object.values(rows)) {
        const message = decodeMessage<M>(row);
        loaded.set(message.topic, message);
      }
      for (const topic of this.#pendingOwn.keys()) {
        const local = this.#retained.get(topic);
        if (local === undefined) loaded.delete(topic);
        else loaded.set(topic, local);
      }
      this.#retained.clear();
      for (const message of loaded.values()) this.#retained.set(message);
    } finally {
      const held = this.#buffered;
      this.#buffered = undefined;
      for (const change of held) this.#apply(change, true);
    }
  }

  #markStale(): void {
    this.#stale = true;
    if (this.#connected) this.#resync();
  }

  /** Reloads the cache once both connections are up again after a loss; retried every second while it fails. */
  #resync(): void {
    if (this.#resyncing || this.#closed || !this.#stale || !this.#connected) return;
    this.#resyncing = true;
    this.#stale = false;
    void this.#load().then(
      () => {
        this.#resyncing = false;
        this.#logger?.info({ redis: this.display, retained: this.#retained.count }, 'the Redis store reloaded its retained messages');
        this.#resync(); // a loss during the load marked it stale again
      },
      (error: unknown) => {
        this.#resyncing = false;
        this.#stale = true;
        if (this.#closed) return;
        this.#logger?.warn({ redis: this.display, err: describe(error) }, 'the Redis store could not reload its retained messages; retrying');
        clearTimeout(this.#resyncTimer);
        this.#resyncTimer = setTimeout(() => this.#resync(), 1000).unref();
      },
    );
  }

  #updateStatus(): void {
    if (this.#closed) return;
    const up = this.#redis.status === 'ready' && this.#subscriber.status === 'ready';
    if (up === this.#connected) return;
    this.#connected = up;
    if (up) this.#logger?.info({ redis: this.display }, 'the Redis store is connected');
    else this.#logger?.warn({ redis: this.display, err: this.#lastError }, 'the Redis store lost its connection to Redis; writes fail and sessions cannot be loaded until it is back');
    for (const listener of this.#statusListeners) listener(up);
    if (up) this.#resync();
  }

  #unavailable(what: string, error: unknown): MoatError {
    const last = this.#lastError === undefined ? '' : ` (last connection error: ${this.#lastError})`;
    return new MoatError('MOAT_ERR_STORE_UNAVAILABLE', `${this.display}: the Redis store ${what}: ${describe(error)}${last}`, { cause: error });
  }
}
