// Session state that outlives a network connection [MQTT-4.1]: subscriptions, QoS 1/2 messages in
// flight both ways, messages queued while offline or while the in-flight window is full, the will.
import { ReasonCode } from '../codec/reason-codes.js';
import type { ProtocolVersion, QoS, Will } from '../codec/types.js';
import type { Connection } from './connection.js';
import { FLOW_STALL_MS, FlowGate, flowHighWater, type PublisherHold } from './flow-control.js';
import { emptyDropCounts, type DropCounts, type DropLedger, type DropReason } from './drops.js';
import type { LongTimer } from './long-timer.js';
import { remainingExpiry, type Access, type Message } from './message.js';
import type { WireCache } from './wire-cache.js';
import type { ResolvedBrokerOptions } from './options.js';
import { sinceOrigin } from './clock.js';
import { Queue } from './queue.js';
import type { SessionRecord, Store, StoredSession, SubscriptionRecord } from '../store/store.js';

/** A subscription as the router holds it: the stored fields and the session it belongs to. */
export interface SubscriptionEntry extends SubscriptionRecord {
  readonly session: Session;
}

/** One message on its way to this session, with the shape it is delivered in. */
export interface Delivery {
  readonly message: Message;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly subscriptionIdentifiers: number[] | undefined;
  /** Its queue entry in a durable store; undefined when the store keeps no sessions. */
  readonly queueId?: number;
}

export interface Inflight extends Delivery {
  readonly packetId: number;
  /** 'publish': waiting for PUBACK/PUBREC; 'pubrel': PUBREL sent, waiting for PUBCOMP. */
  state: 'publish' | 'pubrel';
}

const EMPTY_MAP: ReadonlyMap<never, never> = new Map<never, never>();

/** What bounds a session's queue and window. */
export type SessionLimits = Pick<ResolvedBrokerOptions, 'maxQueuedMessages' | 'maxQueuedBytes' | 'maxInflightBytes' | 'queueQos0Messages'>;

/** What every session of a broker shares: one object per broker, not three fields per session. */
export class SessionContext {
  readonly limits: SessionLimits;
  /** The broker's drop counts and their rate-limited log. */
  readonly drops: DropLedger;
  /** The durable store every change of a session is written through; undefined when there is none. */
  readonly store: Store<Message> | undefined;
  /** Flow control (flow-control.ts): publishers held until a queue is back under half of this. */
  readonly flowHigh: number;

  constructor(limits: SessionLimits, drops: DropLedger, store: Store<Message> | undefined) {
    this.limits = limits;
    this.drops = drops;
    this.store = store;
    this.flowHigh = flowHighWater(limits.maxQueuedMessages);
  }
}

/** #lastAckAt before any: ~12 days before CLOCK_ORIGIN, still a small integer. */
const LONG_AGO = -(2 ** 30);

/** Session Expiry Interval meaning "never expires". */
export const NEVER_EXPIRES = 0xffffffff;

export class Session {
  readonly clientId: string;
  connection: Connection | undefined;
  protocolVersion: ProtocolVersion;
  /** Seconds the session survives its connection; 0 ends it with the connection. */
  expiryInterval: number;
  will: Will | undefined;
  /** Who the session belongs to and the rules it reads under; undefined = no ACL can apply. */
  access: Access | undefined;
  // Collections are created on first use: most of 10,000s of idle sessions never need all of them,
  // and an empty Map or Set still costs a backing store.
  #subscriptions: Map<string, SubscriptionEntry> | undefined;
  #inflight: Map<number, Inflight> | undefined;
  #queue: Queue<Delivery> | undefined;
  readonly #context: SessionContext;
  /** Payload bytes in `queue` and in `inflight`, for max_queued_bytes / max_inflight_bytes. */
  queuedBytes = 0;
  inflightBytes = 0;
  #nextPacketId = 1;
  /**
   * What few sessions need (timers of an offline session, QoS 2 ids, drop counts, a flow-control
   * gate), in one object made on first use: each field here costs 8 bytes in each of 10,000s of
   * idle sessions (docs/PERFORMANCE.md, "Idle connections").
   */
  #rare: SessionRare | undefined;
  /** The last acknowledgement, or the send that opened an empty window, ms since CLOCK_ORIGIN (clock.ts): a subscriber silent for FLOW_STALL_MS since holds no one. */
  #lastAckAt = LONG_AGO;

  // Scratch fields the router uses to merge overlapping subscriptions without allocating.
  routeStamp = 0;
  routeQos: QoS = 0;
  routeRetain = false;
  routeSubIds: number[] | undefined = undefined;

  /** Whether the ACL lets this session receive a message on `topic` (checked at every delivery). */
  mayRead(topic: string): boolean {
    const access = this.access;
    return access === undefined || access.control.allows(access.subject, 'read', topic);
  }

  constructor(
    clientId: string,
    protocolVersion: ProtocolVersion,
    expiryInterval: number,
    context: SessionContext,
  ) {
    this.#context = context;
    this.clientId = clientId;
    this.protocolVersion = protocolVersion;
    this.expiryInterval = expiryInterval;
  }


  #rareState(): SessionRare {
    return (this.#rare ??= new SessionRare());
  }

  get expiryTimer(): LongTimer | undefined {
    return this.#rare?.expiryTimer;
  }

  set expiryTimer(timer: LongTimer | undefined) {
    if (timer !== undefined || this.#rare !== undefined) this.#rareState().expiryTimer = timer;
  }

  get willTimer(): LongTimer | undefined {
    return this.#rare?.willTimer;
  }

  set willTimer(timer: LongTimer | undefined) {
    if (timer !== undefined || this.#rare !== undefined) this.#rareState().willTimer = timer;
  }

  /** Counts a message this session will not get, in the session and the broker's ledger. */
  recordDrop(reason: DropReason): void {
    (this.#rareState().droppedBy ??= emptyDropCounts())[reason]++;
    this.#context.drops.record(this.clientId, reason);
  }

  /** Messages dropped for this session, in all (the sum of droppedBy: nothing to keep while none are). */
  get dropped(): number {
    const by = this.#rare?.droppedBy;
    if (by === undefined) return 0;
    let total = 0;
    for (const reason in by) total += by[reason as DropReason];
    return total;
  }

  get droppedBy(): Readonly<DropCounts> {
    return this.#rare?.droppedBy ?? emptyDropCounts();
  }

  get subscriptions(): ReadonlyMap<string, SubscriptionEntry> {
    return this.#subscriptions ?? EMPTY_MAP;
  }

  /** Adds or replaces the subscription of its filter; true when the filter is new to this session. */
  setSubscription(entry: SubscriptionEntry): boolean {
    const subscriptions = (this.#subscriptions ??= new Map());
    const isNew = !subscriptions.has(entry.filter);
    subscriptions.set(entry.filter, entry);
    return isNew;
  }

  deleteSubscription(filter: string): boolean {
    return this.#subscriptions?.delete(filter) ?? false;
  }

  get inflight(): ReadonlyMap<number, Inflight> {
    return this.#inflight ?? EMPTY_MAP;
  }

  get queueLength(): number {
    return this.#queue?.length ?? 0;
  }

  get awaitingPubrelCount(): number {
    return this.#rare?.awaitingPubrel?.size ?? 0;
  }

  isAwaitingPubrel(packetId: number): boolean {
    return this.#rare?.awaitingPubrel?.has(packetId) ?? false;
  }

  addAwaitingPubrel(packetId: number): void {
    (this.#rareState().awaitingPubrel ??= new Set()).add(packetId);
    this.#persisted()?.putAwaitingPubrel(this.clientId, packetId);
  }

  /** Returns whether the id was awaiting PUBREL. */
  releaseAwaitingPubrel(packetId: number): boolean {
    const known = this.#rare?.awaitingPubrel?.delete(packetId) ?? false;
    if (known) this.#persisted()?.deleteAwaitingPubrel(this.clientId, packetId);
    return known;
  }

  /**
   * Sends now when connected and the window allows, else queues (QoS 0 is queued for an offline
   * client only with queue_qos0_messages, as in Mosquitto). Takes the delivery's fields as arguments so the hot path
   * allocates a Delivery only for messages that wait. Returns true when the message had to wait and
   * this connected subscriber is falling behind while still draining: its publishers should be held.
   */
  deliver(message: Message, qos: QoS, retain: boolean, subscriptionIdentifiers: number[] | undefined, wire: WireCache | undefined): boolean {
    const connection = this.connection;
    if (qos === 0) {
      if (connection === undefined) {
        if (this.#context.limits.queueQos0Messages) this.#enqueue(message, 0, retain, subscriptionIdentifiers);
        return false;
      }
      // A slow consumer loses QoS 0 first (docs/ARCHITECTURE.md, backpressure).
      if (connection.backedUp) this.recordDrop('slow_consumer');
      else connection.sendPublish(message, 0, retain, subscriptionIdentifiers, 0, false, wire);
      return false;
    }
    const size = message.payload.length;
    if (connection !== undefined && this.queueLength === 0 && this.#windowOpen(connection, size)) {
      this.#send(connection, message, qos, retain, subscriptionIdentifiers, wire);
      return false;
    }
    this.#enqueue(message, qos, retain, subscriptionIdentifiers);
    return this.#draining(connection);
  }

  /** Queues a delivery within max_queued_messages / max_queued_bytes, else counts it dropped. */
  #enqueue(message: Message, qos: QoS, retain: boolean, subscriptionIdentifiers: number[] | undefined): void {
    const limits = this.#context.limits;
    const size = message.payload.length;
    if (this.queueLength >= limits.maxQueuedMessages || (limits.maxQueuedBytes > 0 && this.queuedBytes + size > limits.maxQueuedBytes)) {
      this.recordDrop('queue_full');
      return;
    }
    this.#push(message, qos, retain, subscriptionIdentifiers);
  }

  /**
   * The durable store, for a session that outlives its connection; a session that ends with it
   * (expiry 0, which it cannot raise later [MQTT-3.14.2-2]) writes nothing, as it has nothing to resume.
   */
  #persisted(): Store<Message> | undefined {
    return this.expiryInterval === 0 ? undefined : this.#context.store;
  }

  /** Appends to the queue (and to the store's copy of it). */
  #push(message: Message, qos: QoS, retain: boolean, subscriptionIdentifiers: number[] | undefined): void {
    const store = this.#persisted();
    if (store === undefined) {
      (this.#queue ??= new Queue()).push({ message, qos, retain, subscriptionIdentifiers });
    } else {
      const queueId = ++this.#rareState().queueSeq;
      (this.#queue ??= new Queue()).push({ message, qos, retain, subscriptionIdentifiers, queueId });
      store.enqueue(this.clientId, { id: queueId, message, qos, retain, subscriptionIdentifiers });
    }
    this.queuedBytes += message.payload.length;
  }

  /** Connected, over the flow high-water mark, and acknowledging: slow, not stalled. */
  #draining(connection: Connection | undefined): boolean {
    return connection !== undefined && this.queueLength >= this.#context.flowHigh && sinceOrigin(Date.now()) - this.#lastAckAt < FLOW_STALL_MS;
  }

  /** Holds `publisher` until this session's queue has room again (within flow-control.ts's bounds). */
  holdPublisher(publisher: PublisherHold): void {
    publisher.holdOn((this.#rareState().gate ??= new FlowGate()));
  }

  /** Releases every publisher held on this session (its queue drained, or it went offline or ended). */
  openGate(): void {
    this.#rare?.gate?.open();
  }

  #windowOpen(connection: Connection, size: number): boolean {
    if (this.inflight.size >= connection.sendWindow) return false;
    const maxBytes = this.#context.limits.maxInflightBytes;
    // An empty window always takes one message, however large, so nothing can stall forever.
    return maxBytes === 0 || this.inflight.size === 0 || this.inflightBytes + size <= maxBytes;
  }

  /**
   * Retained messages for a new subscription [MQTT-3.3.1-8]. QoS 1/2 ones take the queue like any
   * other message (same limits); QoS 0 ones are paced by the socket (Connection.sendRetained), so a
   * subscriber finds none missing and a client that does not read holds no more than its buffer.
   */
  deliverRetained(message: Message, qos: QoS, subscriptionIdentifiers: number[] | undefined): void {
    if (qos === 0) this.connection?.sendRetained(message, subscriptionIdentifiers);
    else this.deliver(message, qos, true, subscriptionIdentifiers, undefined);
  }

  /** Moves queued messages into the in-flight window while it has room. */
  pump(): void {
    const connection = this.connection;
    const queue = this.#queue;
    if (connection === undefined || queue === undefined) return;
    const now = Date.now();
    for (let next = queue.peek(); next !== undefined; next = queue.peek()) {
      if (next.qos > 0 && !this.#windowOpen(connection, next.message.payload.length)) break;
      const delivery = queue.shift() as Delivery;
      this.queuedBytes -= delivery.message.payload.length;
      if (delivery.queueId !== undefined) this.#persisted()?.dequeue(this.clientId, delivery.queueId);
      const left = remainingExpiry(delivery.message, now);
      if (left !== undefined && left <= 0) {
        this.recordDrop('expired'); // expired while queued [MQTT-3.3.2-5]
        continue;
      }
      // Read access is judged at delivery too: rules reloaded while the message waited may forbid it now.
      if (!this.mayRead(delivery.message.topic)) {
        this.recordDrop('acl_denied');
        continue;
      }
      if (delivery.qos === 0) connection.sendPublish(delivery.message, 0, delivery.retain, delivery.subscriptionIdentifiers, 0, false, undefined);
      else this.#send(connection, delivery.message, delivery.qos, delivery.retain, delivery.subscriptionIdentifiers, undefined);
    }
    const gate = this.#rare?.gate;
    if (gate !== undefined && this.queueLength <= this.#context.flowHigh >> 1) gate.open();
  }

  /** On session resume: resend unacknowledged PUBLISH with DUP, and PUBREL for those past PUBREC [MQTT-4.4.0-1]. */
  resend(): void {
    const connection = this.connection;
    if (connection === undefined) return;
    for (const inflight of this.inflight.values()) {
      if (inflight.state === 'pubrel') connection.sendAck('pubrel', inflight.packetId, ReasonCode.Success);
      else if (!this.mayRead(inflight.message.topic)) this.#dropInflight(inflight, 'acl_denied');
      else connection.sendPublish(inflight.message, inflight.qos, inflight.retain, inflight.subscriptionIdentifiers, inflight.packetId, true, undefined);
    }
    this.pump();
  }

  /**
   * After the ACL rules changed: drops what waits for this session on topics it may no longer read
   * (queued messages, and unacknowledged ones while it is offline: a connected client already has
   * those). PUBRELs stay: their message was delivered. Returns how many were dropped.
   */
  dropUnreadable(): number {
    if (this.access === undefined) return 0;
    let dropped = 0;
    this.#queue?.filter((delivery) => {
      if (this.mayRead(delivery.message.topic)) return true;
      this.queuedBytes -= delivery.message.payload.length;
      if (delivery.queueId !== undefined) this.#persisted()?.dequeue(this.clientId, delivery.queueId);
      this.recordDrop('acl_denied');
      dropped++;
      return false;
    });
    if (this.connection === undefined) {
      for (const inflight of this.inflight.values()) {
        if (inflight.state === 'publish' && !this.mayRead(inflight.message.topic)) {
          this.#dropInflight(inflight, 'acl_denied');
          dropped++;
        }
      }
    }
    return dropped;
  }

  #dropInflight(inflight: Inflight, reason: DropReason): void {
    this.#inflight?.delete(inflight.packetId);
    this.#persisted()?.deleteInflight(this.clientId, inflight.packetId);
    this.inflightBytes -= inflight.message.payload.length;
    this.recordDrop(reason);
  }

  /** Forgets an acknowledged in-flight message and refills the window from the queue. */
  releaseInflight(packetId: number): boolean {
    const inflight = this.#inflight?.get(packetId);
    if (inflight === undefined) return false;
    this.#inflight?.delete(packetId);
    this.#persisted()?.deleteInflight(this.clientId, packetId);
    this.inflightBytes -= inflight.message.payload.length;
    this.#lastAckAt = sinceOrigin(Date.now());
    this.pump();
    return true;
  }

  #send(connection: Connection, message: Message, qos: QoS, retain: boolean, subscriptionIdentifiers: number[] | undefined, wire: WireCache | undefined): void {
    const packetId = this.#allocatePacketId();
    if (packetId === 0) {
      this.#push(message, qos, retain, subscriptionIdentifiers);
      return;
    }
    if (this.inflight.size === 0) this.#lastAckAt = sinceOrigin(Date.now()); // a fresh window: the stall clock starts now
    if (connection.sendPublish(message, qos, retain, subscriptionIdentifiers, packetId, false, wire)) {
      this.inflightBytes += message.payload.length;
      const inflight: Inflight = { message, qos, retain, subscriptionIdentifiers, packetId, state: 'publish' };
      (this.#inflight ??= new Map()).set(packetId, inflight);
      this.#persisted()?.putInflight(this.clientId, inflight);
    }
  }

  /** PUBREC received for a QoS 2 message we sent: PUBREL is next, and the message is delivered [MQTT-4.3.3]. */
  markPubrel(inflight: Inflight): void {
    inflight.state = 'pubrel';
    this.#persisted()?.putInflight(this.clientId, inflight);
  }

  /** What a durable store keeps of this session besides its messages. */
  record(disconnectedAt: number | undefined): SessionRecord {
    const subscriptions = [...this.subscriptions.values()].map(({ session: _session, ...subscription }) => subscription);
    return { clientId: this.clientId, expiryInterval: this.expiryInterval, subscriptions, will: this.will, disconnectedAt };
  }

  /** Takes back the queue, in-flight messages and awaited PUBRELs a durable store kept (at CONNECT, before anything new arrives). */
  restoreMessages(stored: StoredSession<Message>): void {
    for (const packetId of stored.awaitingPubrel) (this.#rareState().awaitingPubrel ??= new Set()).add(packetId);
    for (const entry of stored.queued) {
      const subscriptionIdentifiers = entry.subscriptionIdentifiers === undefined ? undefined : [...entry.subscriptionIdentifiers];
      (this.#queue ??= new Queue()).push({ message: entry.message, qos: entry.qos, retain: entry.retain, subscriptionIdentifiers, queueId: entry.id });
      this.queuedBytes += entry.message.payload.length;
      const rare = this.#rareState();
      if (entry.id > rare.queueSeq) rare.queueSeq = entry.id;
    }
    for (const entry of stored.inflight) {
      const subscriptionIdentifiers = entry.subscriptionIdentifiers === undefined ? undefined : [...entry.subscriptionIdentifiers];
      (this.#inflight ??= new Map()).set(entry.packetId, { message: entry.message, qos: entry.qos, retain: entry.retain, subscriptionIdentifiers, packetId: entry.packetId, state: entry.state });
      this.inflightBytes += entry.message.payload.length;
    }
  }

  /** Removes queued messages whose Message Expiry Interval has passed (counted as drops, out of the store too). */
  dropExpired(now: number): void {
    const queue = this.#queue;
    if (queue === undefined || queue.length === 0) return;
    const kept = new Queue<Delivery>();
    for (let delivery = queue.shift(); delivery !== undefined; delivery = queue.shift()) {
      const left = remainingExpiry(delivery.message, now);
      if (left === undefined || left > 0) {
        kept.push(delivery);
        continue;
      }
      this.queuedBytes -= delivery.message.payload.length;
      if (delivery.queueId !== undefined) this.#persisted()?.dequeue(this.clientId, delivery.queueId);
      this.recordDrop('expired');
    }
    this.#queue = kept;
  }

  #allocatePacketId(): number {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.#nextPacketId;
      this.#nextPacketId = id === 65535 ? 1 : id + 1;
      if (this.#inflight === undefined || !this.#inflight.has(id)) return id;
    }
    return 0;
  }

  /** Forgets subscriptions and every message held for the session (it has ended). */
  clearState(): void {
    this.openGate();
    this.#subscriptions = undefined;
    this.#inflight = undefined;
    this.#queue = undefined;
    if (this.#rare !== undefined) this.#rare.awaitingPubrel = undefined;
    this.queuedBytes = 0;
    this.inflightBytes = 0;
  }

  clearTimers(): void {
    this.expiryTimer?.cancel();
    this.willTimer?.cancel();
    this.expiryTimer = undefined;
    this.willTimer = undefined;
  }
}

/** Session state few sessions need; one object, created when the first is. */
class SessionRare {
  expiryTimer: LongTimer | undefined = undefined;
  willTimer: LongTimer | undefined = undefined;
  /** Incoming QoS 2 packet ids between PUBREC and PUBREL: a resent PUBLISH with one of them is not routed twice. */
  awaitingPubrel: Set<number> | undefined = undefined;
  droppedBy: DropCounts | undefined = undefined;
  gate: FlowGate | undefined = undefined;
  /** The last queue entry id given with a durable store (only sessions that queue there need one). */
  queueSeq = 0;
}
