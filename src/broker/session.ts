// Session state that outlives a network connection [MQTT-4.1]: subscriptions, QoS 1/2 messages in
// flight both ways, messages queued while offline or while the in-flight window is full, the will.
import type { ProtocolVersion, QoS, Will } from '../codec/types.js';
import type { Connection } from './connection.js';
import { remainingExpiry, type Message } from './message.js';
import { Queue } from './queue.js';

export interface SubscriptionEntry {
  readonly session: Session;
  /** The filter as subscribed, `$share/group/` prefix included. */
  readonly filter: string;
  readonly qos: QoS;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  readonly retainHandling: 0 | 1 | 2;
  readonly subscriptionIdentifier: number | undefined;
}

/** One message on its way to this session, with the shape it is delivered in. */
export interface Delivery {
  readonly message: Message;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly subscriptionIdentifiers: number[] | undefined;
}

export interface Inflight extends Delivery {
  readonly packetId: number;
  /** 'publish': waiting for PUBACK/PUBREC; 'pubrel': PUBREL sent, waiting for PUBCOMP. */
  state: 'publish' | 'pubrel';
}

/** Session Expiry Interval meaning "never expires". */
export const NEVER_EXPIRES = 0xffffffff;

export class Session {
  readonly clientId: string;
  connection: Connection | undefined;
  protocolVersion: ProtocolVersion;
  /** Seconds the session survives its connection; 0 ends it with the connection. */
  expiryInterval: number;
  expiryTimer: NodeJS.Timeout | undefined;
  will: Will | undefined;
  willTimer: NodeJS.Timeout | undefined;
  readonly subscriptions = new Map<string, SubscriptionEntry>();
  readonly inflight = new Map<number, Inflight>();
  readonly queue = new Queue<Delivery>();
  /** Incoming QoS 2 packet ids between PUBREC and PUBREL: a resent PUBLISH with one of them is not routed twice. */
  readonly awaitingPubrel = new Set<number>();
  /** Messages dropped for this session (queue full, slow consumer, too large for the client). */
  dropped = 0;
  #nextPacketId = 1;
  readonly #maxQueued: number;

  // Scratch fields the router uses to merge overlapping subscriptions without allocating.
  routeStamp = 0;
  routeQos: QoS = 0;
  routeRetain = false;
  routeSubIds: number[] | undefined = undefined;

  constructor(clientId: string, protocolVersion: ProtocolVersion, expiryInterval: number, maxQueued: number) {
    this.clientId = clientId;
    this.protocolVersion = protocolVersion;
    this.expiryInterval = expiryInterval;
    this.#maxQueued = maxQueued;
  }

  /** Sends now when connected and the window allows, else queues (QoS 0 is never queued for an offline client, as in Mosquitto). */
  deliver(delivery: Delivery, wire: WireCache | undefined): void {
    const connection = this.connection;
    if (delivery.qos === 0) {
      if (connection !== undefined) connection.sendPublish(delivery, 0, false, wire);
      return;
    }
    if (connection !== undefined && this.queue.length === 0 && this.inflight.size < connection.sendWindow) {
      this.#send(connection, delivery, wire);
      return;
    }
    if (this.queue.length >= this.#maxQueued) {
      this.dropped++;
      return;
    }
    this.queue.push(delivery);
  }

  /** Moves queued messages into the in-flight window while it has room. */
  pump(): void {
    const connection = this.connection;
    if (connection === undefined) return;
    const now = Date.now();
    while (this.queue.length > 0 && this.inflight.size < connection.sendWindow) {
      const delivery = this.queue.shift() as Delivery;
      const left = remainingExpiry(delivery.message, now);
      if (left !== undefined && left <= 0) continue; // expired while queued [MQTT-3.3.2-5]
      if (delivery.qos === 0) connection.sendPublish(delivery, 0, false, undefined);
      else this.#send(connection, delivery, undefined);
    }
  }

  /** On session resume: resend unacknowledged PUBLISH with DUP, and PUBREL for those past PUBREC [MQTT-4.4.0-1]. */
  resend(): void {
    const connection = this.connection;
    if (connection === undefined) return;
    for (const inflight of this.inflight.values()) {
      if (inflight.state === 'pubrel') connection.sendAck('pubrel', inflight.packetId, 0);
      else connection.sendPublish(inflight, inflight.packetId, true, undefined);
    }
    this.pump();
  }

  /** Forgets an acknowledged in-flight message and refills the window from the queue. */
  releaseInflight(packetId: number): boolean {
    const had = this.inflight.delete(packetId);
    if (had) this.pump();
    return had;
  }

  #send(connection: Connection, delivery: Delivery, wire: WireCache | undefined): void {
    const packetId = this.#allocatePacketId();
    if (packetId === 0) {
      this.queue.push(delivery);
      return;
    }
    if (connection.sendPublish(delivery, packetId, false, wire)) {
      this.inflight.set(packetId, {
        message: delivery.message,
        qos: delivery.qos,
        retain: delivery.retain,
        subscriptionIdentifiers: delivery.subscriptionIdentifiers,
        packetId,
        state: 'publish',
      });
    }
  }

  #allocatePacketId(): number {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.#nextPacketId;
      this.#nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
    return 0;
  }

  clearTimers(): void {
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    if (this.willTimer !== undefined) clearTimeout(this.willTimer);
    this.expiryTimer = undefined;
    this.willTimer = undefined;
  }
}

/**
 * Encodings of one routed message, shared by every subscriber that takes the same wire shape
 * (protocol version, QoS, retain flag). QoS > 0 entries are templates whose packet id is patched in a copy.
 */
export type WireCache = Map<number, { buffer: Buffer; packetIdOffset: number }>;
