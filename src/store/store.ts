// The Store seam: where the broker keeps what must outlive a connection (retained messages,
// sessions with their subscriptions, expiry and will, the queues of offline persistent sessions,
// QoS 1/2 in-flight state). Writes are recorded synchronously, in call order, and become durable
// as a group at flush(): a durable store commits everything of one event-loop turn in one
// transaction, and the broker holds PUBACK/PUBREC/PUBCOMP until flush() resolves when `durable`
// is true. Reads that may be slow (a session at CONNECT) are asynchronous; retained lookups are
// synchronous because every SUBSCRIBE needs them (a durable store keeps them cached in memory).
// Every implementation passes test/store/contract.ts.
import type { Properties, QoS, Will } from '../codec/types.js';

/** A message as a store keeps it: data only (no sockets, no access objects, no wire bytes). */
export interface StoredMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly properties: Properties | undefined;
  /** Absolute expiry (Date.now() ms), 0 = never. */
  readonly expiresAt: number;
  /** Client id of the publisher ('' for wills and $SYS). */
  readonly origin: string;
}

export interface SubscriptionRecord {
  /** As subscribed, `$share/group/` prefix included. */
  readonly filter: string;
  readonly qos: QoS;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  readonly retainHandling: 0 | 1 | 2;
  readonly subscriptionIdentifier: number | undefined;
}

export interface SessionRecord {
  readonly clientId: string;
  /** Session Expiry Interval, seconds; 0xFFFFFFFF = never. */
  readonly expiryInterval: number;
  readonly subscriptions: readonly SubscriptionRecord[];
  readonly will: Will | undefined;
  /** Date.now() when the client went away; undefined while it is connected. */
  readonly disconnectedAt: number | undefined;
}

/** A message for one session, in the shape it is delivered in (the subscription's QoS, retain flag and identifiers). */
export interface DeliveryRecord<M extends StoredMessage = StoredMessage> {
  readonly message: M;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly subscriptionIdentifiers: readonly number[] | undefined;
}

/** A message waiting in an offline session's queue. */
export interface QueuedRecord<M extends StoredMessage = StoredMessage> extends DeliveryRecord<M> {
  /** Increasing per session: the queue's order, and how an entry is removed once sent. */
  readonly id: number;
}

/** A QoS 1/2 message sent and not yet acknowledged. */
export interface InflightRecord<M extends StoredMessage = StoredMessage> extends DeliveryRecord<M> {
  readonly packetId: number;
  /** 'publish': waiting for PUBACK/PUBREC; 'pubrel': PUBREL sent, waiting for PUBCOMP. */
  readonly state: 'publish' | 'pubrel';
}

/**
 * A session as loaded at CONNECT: its record, its queue (in id order), its in-flight messages (in
 * packet id order) and the packet ids of QoS 2 messages it sent us that wait for PUBREL (ascending).
 */
export interface StoredSession<M extends StoredMessage = StoredMessage> {
  readonly session: SessionRecord;
  readonly queued: ReadonlyArray<QueuedRecord<M>>;
  readonly inflight: ReadonlyArray<InflightRecord<M>>;
  readonly awaitingPubrel: readonly number[];
}

export interface Store<M extends StoredMessage = StoredMessage> {
  /** True when a resolved flush() means the writes survive a crash: acknowledgements then wait for it. */
  readonly durable: boolean;

  /** Keeps `message` as the retained message of its topic, replacing any. */
  putRetained(message: M): void;
  deleteRetained(topic: string): void;
  getRetained(topic: string): M | undefined;
  /** The retained messages whose topics `filter` matches ($-topics only by filters that name them [MQTT-4.7.2-1]). */
  matchRetained(filter: string): Iterable<M>;
  readonly retainedCount: number;
  /** Payload bytes of the retained messages ($SYS/broker/store/messages/bytes). */
  readonly retainedBytes: number;

  /** Creates or replaces the session's record (not its queue or in-flight messages). */
  saveSession(record: SessionRecord): void;
  /** Removes the session with its queue and in-flight messages. */
  deleteSession(clientId: string): void;
  loadSession(clientId: string): Promise<StoredSession<M> | undefined>;
  /** Every session's record, for expiry at start. */
  sessions(): AsyncIterable<SessionRecord>;

  /** Queue and in-flight writes belong to a saved session: for a client id with none they are ignored. */
  enqueue(clientId: string, entry: QueuedRecord<M>): void;
  /** Removes a queued entry (sent, expired or dropped). */
  dequeue(clientId: string, id: number): void;
  /** Creates or replaces the in-flight state of `packetId` (PUBLISH sent, then PUBREL sent). */
  putInflight(clientId: string, record: InflightRecord<M>): void;
  deleteInflight(clientId: string, packetId: number): void;
  /** A QoS 2 PUBLISH from the client was routed and PUBREC sent: a resent one with this id is not routed again. */
  putAwaitingPubrel(clientId: string, packetId: number): void;
  deleteAwaitingPubrel(clientId: string, packetId: number): void;

  /**
   * True while writes are recorded and not yet confirmed: an acknowledgement must wait for flush().
   * False when there is nothing to wait for, so the acknowledgement can go at once, in order.
   */
  readonly pending: boolean;
  /** Commits the writes recorded so far as one group; resolves when they are as durable as the store is. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
