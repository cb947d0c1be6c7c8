// The bus of several moat processes sharing one Redis, which then act as one broker (issue 13).
// Pub/sub carries what moves: each node subscribes to its own channel (`PREFIX node:ID`, message
// envelopes meant for it) and to one control channel (interest changes, claims, arrivals and
// departures). Keys hold what a node joining or reconnecting must read, all under one hash tag
// so MULTI and scripts also work on Redis Cluster:
//   PREFIX{bus}nodes           sorted set: node id -> last heartbeat (Redis TIME, ms)
//   PREFIX{bus}interest:ID     set: the node's filters (counts stay on the node)
//   PREFIX{bus}version:ID      the number of interest changes the node has made
//   PREFIX{bus}clients:ID      set: the client ids connected on the node
// Every node keeps every other node's filters in memory (interest.ts), so publish and
// othersInterested decide synchronously; an interest change carries the node's version, and a
// receiver that sees a gap (or an unknown node) reloads that node's set. A node whose heartbeat is
// older than deadAfterMs is lost: the first survivor to remove it (in a script: exactly one wins)
// reads its clients and gets nodeLost. With Redis unreachable the node serves its own clients
// alone; on reconnect it writes its state again and reloads everyone else's.
import { deserialize, serialize } from 'node:v8';
import { MoatError } from '../codec/errors.js';
import type { StoredMessage } from '../store/store.js';
import { CountedFilters } from './counted-filters.js';
import type { Bus, BusHandlers } from './bus.js';
import { Deduper } from './deduper.js';
import { ClusterInterest } from './interest.js';
import { newNodeId } from './local-bus.js';
import { connectRedis, parseRedisUrl, type RedisConnection, type RedisTarget } from './redis-connection.js';

export interface RedisBusOptions {
  /** Prefix of every key and channel; several clusters can share one Redis. Default 'moat:'. */
  readonly prefix?: string;
  readonly nodeId?: string;
  /** How often the node says it is alive. Default 1000. */
  readonly heartbeatMs?: number;
  /** A node silent this long is lost. Default 3000. */
  readonly deadAfterMs?: number;
  /** How long open() waits for Redis before refusing. Default 10000. */
  readonly connectTimeoutMs?: number;
}

/** What crosses the control channel (JSON). */
type Control =
  | { readonly type: 'add' | 'remove'; readonly node: string; readonly version: number; readonly filter: string }
  | { readonly type: 'sync'; readonly node: string; readonly version: number }
  | { readonly type: 'claim'; readonly node: string; readonly seq: number; readonly clientId: string }
  | { readonly type: 'bye' | 'lost'; readonly node: string }
  | { readonly type: 'settle'; readonly node: string; readonly token: number };

type InterestChange = Extract<Control, { type: 'add' | 'remove' }>;

/** A message envelope on a node channel (v8-serialized; the message inside serialized once for all targets). */
interface Envelope {
  readonly node: string;
  readonly seq: number;
  readonly sharedFilters: readonly string[];
  readonly message: Uint8Array;
}

// Both scripts read Redis TIME, so no node's clock matters (before Redis 5 that needs
// replicate_commands). Heartbeat: KEYS[1] nodes; ARGV[1] self, ARGV[2] deadAfterMs, ARGV[3..] nodes to add if absent
// (after Redis restarted empty, so a node that never comes back is still found dead). Returns
// {1 if self was absent, stale node ids}.
const HEARTBEAT = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local added = redis.call('ZADD', KEYS[1], now, ARGV[1])
for i = 3, #ARGV do redis.call('ZADD', KEYS[1], 'NX', now, ARGV[i]) end
return {added, redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))}
`;

// Reap: KEYS nodes, clients:X, interest:X, version:X; ARGV X, deadAfterMs, control channel, the
// 'lost' announcement. Only if X is still stale: removes it, returns its clients (nil otherwise).
const REAP = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > now - tonumber(ARGV[2]) then return false end
redis.call('ZREM', KEYS[1], ARGV[1])
local clients = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return clients
`;

/** The subscriber side of an ioredis connection, as both Redis and Cluster provide it. */
interface Subscriber {
  on(event: 'messageBuffer', listener: (channel: Buffer, message: Buffer) => void): unknown;
}

export class RedisBus implements Bus {
  readonly nodeId: string;
  readonly #command: RedisConnection;
  readonly #subscriber: RedisConnection;
  readonly #keys: { readonly nodes: string; interest(node: string): string; version(node: string): string; clients(node: string): string };
  readonly #control: string;
  readonly #ownChannel: string;
  readonly #nodeChannel: (node: string) => string;
  readonly #heartbeatMs: number;
  readonly #deadAfterMs: number;

  /** filter -> how many local subscriptions hold it. */
  readonly #interest = new CountedFilters();
  /** Interest changes this node has made (each announced with its number). */
  #version = 0;
  /** Client ids connected here. */
  readonly #clients = new Set<string>();

  readonly #view: ClusterInterest;
  /** Other nodes whose interest is loaded -> the version it is at. */
  readonly #versions = new Map<string, number>();
  /** Nodes being (re)loaded -> changes announced meanwhile. */
  readonly #loading = new Map<string, InterestChange[]>();
  /** Nodes to load again once the load in flight ends (its result may predate a sync). */
  readonly #reloadAgain = new Set<string>();
  /** Bumped when a node is dropped, so a load that was in flight then is discarded. */
  readonly #epochs = new Map<string, number>();
  readonly #deduper = new Deduper();

  #handlers: BusHandlers | undefined;
  #seq = 0;
  #closed = false;
  #connected = false;
  /** Set after a (re)connect until the state is written and the others are reloaded. */
  #resyncing: Promise<void> | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #unsent = 0;
  #closing: Promise<void> | undefined;
  readonly #statusListeners = new Set<(up: boolean) => void>();
  /** Loads of other nodes' interest in flight (settled() waits for them). */
  readonly #loads = new Set<Promise<void>>();
  readonly #settling = new Map<number, () => void>();
  #settleToken = 0;

  private constructor(target: RedisTarget, options: RedisBusOptions) {
    this.nodeId = options.nodeId ?? newNodeId();
    const prefix = options.prefix ?? 'moat:';
    const tag = `${prefix}{bus}`;
    this.#keys = {
      nodes: `${tag}nodes`,
      interest: (node) => `${tag}interest:${node}`,
      version: (node) => `${tag}version:${node}`,
      clients: (node) => `${tag}clients:${node}`,
    };
    this.#control = `${prefix}control`;
    this.#nodeChannel = (node) => `${prefix}node:${node}`;
    this.#ownChannel = this.#nodeChannel(this.nodeId);
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.#deadAfterMs = options.deadAfterMs ?? 3000;
    this.#view = new ClusterInterest(this.nodeId);
    // No offline queue: while Redis is away nothing is sent (publish skips, counted) and a
    // reconnect rewrites the whole state, so queued commands would only replay stale ones.
    const redisOptions = { enableOfflineQueue: false, retryStrategy: (times: number) => Math.min(times * 100, 1000) };
    this.#command = connectRedis(target, redisOptions);
    this.#subscriber = connectRedis(target, redisOptions);
    for (const connection of [this.#command, this.#subscriber]) {
      connection.on('error', () => undefined); // reported through connected/onStatus; ioredis reconnects
      connection.on('ready', () => this.#statusChanged());
      connection.on('close', () => this.#statusChanged());
      connection.on('end', () => this.#statusChanged());
    }
    (this.#subscriber as unknown as Subscriber).on('messageBuffer', (channel, message) => this.#received(channel.toString(), message));
  }

  /** Connects, joins the cluster and loads the other nodes' interest; resolves once ready. */
  static async open(url: string | RedisTarget, options: RedisBusOptions = {}): Promise<RedisBus> {
    const target = typeof url === 'string' ? parseRedisUrl(url) : url;
    const bus = new RedisBus(target, options);
    const timeout = options.connectTimeoutMs ?? 10_000;
    const up = new Promise<void>((resolve) => {
      if (bus.#connected) resolve();
      else bus.#statusListeners.add(function once(ready) {
        if (!ready) return;
        bus.#statusListeners.delete(once);
        resolve();
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeout)));
    const outcome = await Promise.race([up, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      bus.#shutConnections();
      throw new MoatError('MOAT_ERR_BUS_CONNECT', `the cluster bus could not reach Redis at ${target.display} within ${timeout} ms`);
    }
    await bus.#resyncing;
    bus.#heartbeat = setInterval(() => void bus.#beat(), bus.#heartbeatMs);
    bus.#heartbeat.unref();
    return bus;
  }

  /** Both connections are up: messages reach the other nodes. */
  get connected(): boolean {
    return this.#connected;
  }

  /** This node and the others it knows of (loaded, or being loaded). */
  get liveNodes(): number {
    let others = 0;
    for (const _node of this.#peers()) others++;
    return others + 1;
  }

  /** Messages that matched another node's interest but were not sent because Redis was away. */
  get unsent(): number {
    return this.#unsent;
  }

  /** Calls `listener(up)` whenever `connected` changes; returns the unsubscribe. */
  onStatus(listener: (up: boolean) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  attach(handlers: BusHandlers): void {
    this.#handlers = handlers;
  }

  publish(message: StoredMessage): readonly string[] | undefined {
    if (this.#closed || !this.#view.othersHold) return undefined;
    if (!this.#connected) {
      // Alone until Redis is back: every local group delivers, as on a node alone.
      if (this.#view.othersInterested(message.topic)) this.#unsent++;
      return undefined;
    }
    const plan = this.#view.plan(message.topic);
    if (plan.targets.size === 0) return plan.own;
    const seq = ++this.#seq;
    const { topic, payload, qos, retain, properties, expiresAt, origin } = message;
    const body = serialize({ topic, payload, qos, retain, properties, expiresAt, origin });
    for (const [node, sharedFilters] of plan.targets) {
      const envelope: Envelope = { node: this.nodeId, seq, sharedFilters, message: body };
      this.#command.publish(this.#nodeChannel(node), serialize(envelope)).catch(() => this.#unsent++);
    }
    return plan.own;
  }

  addInterest(filter: string): void {
    if (this.#interest.add(filter)) this.#changeInterest('add', filter);
  }

  removeInterest(filter: string): void {
    if (this.#interest.remove(filter)) this.#changeInterest('remove', filter);
  }

  othersInterested(topic: string): boolean {
    return this.#view.othersInterested(topic);
  }

  claimSession(clientId: string): void {
    if (this.#closed) return;
    this.#clients.add(clientId);
    if (!this.#connected) return; // the resync writes the client set
    const claim: Control = { type: 'claim', node: this.nodeId, seq: ++this.#seq, clientId };
    const multi = this.#command.multi();
    for (const node of this.#peers()) multi.srem(this.#keys.clients(node), clientId);
    multi.sadd(this.#keys.clients(this.nodeId), clientId).publish(this.#control, JSON.stringify(claim));
    void multi.exec().catch(() => undefined);
  }

  releaseSession(clientId: string): void {
    if (this.#closed || !this.#clients.delete(clientId) || !this.#connected) return;
    this.#command.srem(this.#keys.clients(this.nodeId), clientId).catch(() => undefined);
  }

  /** Leaves the cluster: its node entry, interest and clients are removed, the others told. */
  close(): Promise<void> {
    this.#closing ??= this.#leave();
    return this.#closing;
  }

  async #leave(): Promise<void> {
    if (this.#closed) return; // crashed
    this.#closed = true;
    clearInterval(this.#heartbeat);
    if (this.#connected) {
      // Handed over, not forgotten: the heartbeat set back to 0 makes this node stale at once, so the
      // next survivor's heartbeat reaps it as it would a dead one and adopts the sessions it still
      // held (a rolling restart must not leave offline sessions with nobody queuing for them). With no
      // survivor, the next node to start does. Its interest goes now: nothing is routed here meanwhile.
      // Holding nothing, it leaves no trace.
      const bye: Control = { type: 'bye', node: this.nodeId };
      const leave = this.#command.multi();
      if (this.#clients.size > 0) leave.zadd(this.#keys.nodes, 0, this.nodeId);
      else leave.zrem(this.#keys.nodes, this.nodeId).del(this.#keys.clients(this.nodeId));
      await leave
        .del(this.#keys.interest(this.nodeId), this.#keys.version(this.nodeId))
        .publish(this.#control, JSON.stringify(bye))
        .exec()
        .catch(() => undefined);
    }
    await Promise.all([this.#subscriber, this.#command].map((c) => c.quit().catch(() => c.disconnect())));
    this.#interest.clear();
    this.#statusListeners.clear();
  }

  /**
   * Resolves once what this node sent before has been executed by Redis, what was published to it
   * before has arrived and been handled, and the loads that caused are done. Across several nodes,
   * call it on all of them twice in turn (the first round flushes every node's commands). For tests.
   */
  async settled(): Promise<void> {
    if (this.#closed || !this.#connected) return;
    await this.#resyncing;
    const token = ++this.#settleToken;
    const settle: Control = { type: 'settle', node: this.nodeId, token };
    await new Promise<void>((resolve) => {
      this.#settling.set(token, resolve);
      this.#command.publish(this.#control, JSON.stringify(settle)).catch(() => {
        this.#settling.delete(token);
        resolve();
      });
    });
    while (this.#loads.size > 0) await Promise.all([...this.#loads]);
  }

  /** Tests only: stops as a killed process would, leaving its entries in Redis for the others to find. */
  crash(): void {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#shutConnections();
  }

  #shutConnections(): void {
    this.#closed = true;
    this.#subscriber.disconnect();
    this.#command.disconnect();
  }

  /** The other nodes this one knows of. */
  *#peers(): IterableIterator<string> {
    yield* this.#versions.keys();
    for (const node of this.#loading.keys()) if (!this.#versions.has(node)) yield node;
  }

  #changeInterest(type: 'add' | 'remove', filter: string): void {
    if (type === 'add') this.#view.add(this.nodeId, filter);
    else this.#view.remove(this.nodeId, filter);
    const version = ++this.#version;
    if (this.#closed || !this.#connected) return; // the resync writes the whole set
    const change: Control = { type, node: this.nodeId, version, filter };
    const multi = this.#command.multi();
    if (type === 'add') multi.sadd(this.#keys.interest(this.nodeId), filter);
    else multi.srem(this.#keys.interest(this.nodeId), filter);
    multi.set(this.#keys.version(this.nodeId), version).publish(this.#control, JSON.stringify(change));
    void multi.exec().catch(() => undefined);
  }

  #statusChanged(): void {
    if (this.#closed) {
      this.#connected = false; // closing: nobody is told
      return;
    }
    const up = this.#command.status === 'ready' && this.#subscriber.status === 'ready';
    if (up === this.#connected) return;
    this.#connected = up;
    if (up) this.#startResync();
    else {
      // What was published for settled() will not come now.
      for (const resolve of this.#settling.values()) resolve();
      this.#settling.clear();
    }
    for (const listener of [...this.#statusListeners]) listener(up);
  }

  #startResync(): void {
    const resync: Promise<void> = this.#resync().finally(() => {
      if (this.#resyncing === resync) this.#resyncing = undefined;
    });
    this.#resyncing = resync;
  }

  /**
   * After a (re)connect: the subscriptions confirmed (ioredis resubscribes by itself; asking again
   * waits for it), this node's state written afresh (Redis may have restarted empty) and announced,
   * every other node's interest reloaded.
   */
  async #resync(): Promise<void> {
    try {
      const subscriber = this.#subscriber as RedisConnection & { subscribe(...channels: string[]): Promise<unknown> };
      await subscriber.subscribe(this.#ownChannel, this.#control);
      const own = this.nodeId;
      const sync: Control = { type: 'sync', node: own, version: this.#version };
      const multi = this.#command.multi().del(this.#keys.interest(own), this.#keys.clients(own));
      if (this.#interest.size > 0) multi.sadd(this.#keys.interest(own), ...this.#interest.keys());
      if (this.#clients.size > 0) multi.sadd(this.#keys.clients(own), ...this.#clients);
      multi.set(this.#keys.version(own), this.#version);
      await multi.exec();
      await this.#beat([...this.#peers()]);
      await this.#command.publish(this.#control, JSON.stringify(sync));
      const nodes = await this.#command.zrange(this.#keys.nodes, 0, -1);
      await Promise.all(nodes.filter((node) => node !== own).map((node) => this.#load(node)));
    } catch {
      // Redis went away again: the next 'ready' resyncs.
    }
  }

  /** Heartbeat, then reaps every node found stale. `absent`: nodes to enter if Redis lost them. */
  async #beat(absent: readonly string[] = []): Promise<void> {
    if (this.#closed || !this.#connected) return;
    let reply: [number, string[]];
    try {
      reply = (await this.#command.eval(HEARTBEAT, 1, this.#keys.nodes, this.nodeId, this.#deadAfterMs, ...absent)) as [number, string[]];
    } catch {
      return;
    }
    const [added, stale] = reply;
    // Absent without a reconnect seen: Redis restarted between beats, or the others took this node
    // for dead (it stalled). Either way its state must be written again.
    if (added === 1 && this.#resyncing === undefined) this.#startResync();
    // Reaping waits for attach(): the one survivor told of a loss must have a broker to act on it.
    if (this.#handlers === undefined) return;
    for (const node of stale) if (node !== this.nodeId) await this.#reap(node);
  }

  async #reap(node: string): Promise<void> {
    const lost: Control = { type: 'lost', node };
    const k = this.#keys;
    let clients: string[] | null;
    try {
      clients = (await this.#command.eval(REAP, 4, k.nodes, k.clients(node), k.interest(node), k.version(node), node, this.#deadAfterMs, this.#control, JSON.stringify(lost))) as string[] | null;
    } catch {
      return;
    }
    if (clients === null) return; // alive after all, or another node reaped it first
    this.#drop(node);
    this.#handlers?.nodeLost?.(node, clients);
  }

  #received(channel: string, data: Buffer): void {
    if (this.#closed) return;
    try {
      this.#handle(channel, data);
    } catch {
      // Not a moat bus message (something else published on a moat channel): ignored.
    }
  }

  #handle(channel: string, data: Buffer): void {
    if (channel === this.#ownChannel) {
      const envelope = deserialize(data) as Envelope;
      if (!this.#deduper.accept(envelope.node, envelope.seq)) return;
      const message = deserialize(envelope.message) as StoredMessage;
      this.#handlers?.message({ node: envelope.node, seq: envelope.seq, message, sharedFilters: envelope.sharedFilters });
      return;
    }
    if (channel !== this.#control) return;
    const control = JSON.parse(data.toString()) as Control;
    if (control.node === this.nodeId) {
      if (control.type === 'settle') {
        this.#settling.get(control.token)?.();
        this.#settling.delete(control.token);
      }
      // The others took this node for dead (it stalled past deadAfterMs): join again.
      if (control.type === 'lost' && this.#resyncing === undefined) this.#startResync();
      return;
    }
    switch (control.type) {
      case 'add':
      case 'remove':
        this.#interestChanged(control);
        return;
      case 'sync':
        if (this.#loading.has(control.node)) this.#reloadAgain.add(control.node);
        else if (this.#versions.get(control.node) !== control.version) void this.#load(control.node);
        return;
      case 'claim':
        if (!this.#deduper.accept(control.node, control.seq)) return;
        // The claimer removed it from this node's set; again here, for a claimer that did not know this node yet.
        if (this.#clients.delete(control.clientId)) this.#command.srem(this.#keys.clients(this.nodeId), control.clientId).catch(() => undefined);
        this.#handlers?.claim({ node: control.node, seq: control.seq, clientId: control.clientId });
        return;
      case 'bye':
      case 'lost':
        this.#drop(control.node);
        return;
    }
  }

  #interestChanged(change: InterestChange): void {
    const pending = this.#loading.get(change.node);
    if (pending !== undefined) {
      pending.push(change);
      return;
    }
    const known = this.#versions.get(change.node);
    if (known !== undefined && change.version <= known) return;
    if (known === undefined || change.version !== known + 1) {
      void this.#load(change.node, [change]); // a node new to this one, or changes missed
      return;
    }
    if (change.type === 'add') this.#view.add(change.node, change.filter);
    else this.#view.remove(change.node, change.filter);
    this.#versions.set(change.node, change.version);
  }

  /** Reads `node`'s filters and version; changes announced meanwhile are applied after. */
  #load(node: string, pending: InterestChange[] = []): Promise<void> {
    const load = this.#loadNow(node, pending);
    this.#loads.add(load);
    return load.finally(() => this.#loads.delete(load));
  }

  async #loadNow(node: string, pending: InterestChange[]): Promise<void> {
    if (this.#loading.has(node)) {
      this.#loading.get(node)?.push(...pending);
      this.#reloadAgain.add(node);
      return;
    }
    const epoch = this.#epochs.get(node) ?? 0;
    this.#loading.set(node, pending);
    let filters: string[];
    let version: string | null;
    try {
      const replies = await this.#command.multi().smembers(this.#keys.interest(node)).get(this.#keys.version(node)).exec();
      filters = replies?.[0]?.[1] as string[];
      version = replies?.[1]?.[1] as string | null;
    } catch {
      if ((this.#epochs.get(node) ?? 0) === epoch) this.#loading.delete(node);
      return; // disconnected: the resync reloads
    }
    if (this.#closed || (this.#epochs.get(node) ?? 0) !== epoch) return; // dropped meanwhile
    const changes = this.#loading.get(node) ?? [];
    this.#loading.delete(node);
    const again = this.#reloadAgain.delete(node);
    if (version === null || version === undefined) {
      // Not (or no longer) in Redis: gone, or its first write is yet to come (then its sync follows).
      this.#drop(node);
      return;
    }
    this.#view.replace(node, filters);
    this.#versions.set(node, Number(version));
    for (const change of changes.sort((a, b) => a.version - b.version)) this.#interestChanged(change);
    if (again) await this.#load(node);
  }

  /** `node` left or was lost: its interest and sequence are forgotten. */
  #drop(node: string): void {
    this.#epochs.set(node, (this.#epochs.get(node) ?? 0) + 1);
    this.#view.drop(node);
    this.#versions.delete(node);
    this.#loading.delete(node);
    this.#reloadAgain.delete(node);
    this.#deduper.forget(node);
  }
}
