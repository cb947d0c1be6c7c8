// Outgoing QoS flows: packet identifiers, the PUBLISH queue held back by the server's Receive
// Maximum, and the in-flight table that PUBACK / PUBREC / PUBCOMP settle. No sockets here: the
// client passes a `send` function, so a later reconnect can resend the in-flight table (DUP) and
// an offline queue can feed `enqueue` while disconnected.
import { encodeAck } from '../codec/encode.js';
import { MoatError } from '../codec/errors.js';
import type { Properties, ProtocolVersion, QoS } from '../codec/types.js';
import { MqttError } from './errors.js';

/** Packet identifiers 1..65535, handed out in order, wrapping, skipping those still in use. */
export class PacketIds {
  #next = 1;
  readonly #inUse = new Set<number>();

  allocate(): number {
    if (this.#inUse.size >= 0xffff) {
      throw new MoatError('MOAT_ERR_PACKET_IDS_EXHAUSTED', 'All 65535 packet identifiers are in use; wait for acknowledgements before sending more.');
    }
    let id = this.#next;
    while (this.#inUse.has(id)) id = id === 0xffff ? 1 : id + 1;
    this.#inUse.add(id);
    this.#next = id === 0xffff ? 1 : id + 1;
    return id;
  }

  release(id: number): void {
    this.#inUse.delete(id);
  }

  has(id: number): boolean {
    return this.#inUse.has(id);
  }

  get size(): number {
    return this.#inUse.size;
  }
}

/** One PUBLISH on its way out. `buffer` is encoded once; the packet id is patched in at `idOffset`. */
export interface OutgoingPublish {
  readonly qos: QoS;
  readonly buffer: Buffer;
  readonly idOffset: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  /** properties.topicAlias set by the caller (MQTT 5); automatic aliases are added only when this is undefined. */
  readonly callerAlias?: number;
  packetId: number;
  /** What the flow waits for next. */
  awaiting: 'window' | 'puback' | 'pubrec' | 'pubcomp';
}

/** Offset of the packet id in an encoded QoS > 0 PUBLISH: fixed header, remaining length, topic. */
export function publishPacketIdOffset(buffer: Buffer): number {
  let offset = 1;
  while (((buffer[offset] as number) & 0x80) !== 0) offset++;
  offset++;
  return offset + 2 + buffer.readUInt16BE(offset);
}

export type Send = (buffer: Buffer, written?: (error?: Error | null) => void) => void;

/** The bytes of `publish` for the current connection (topic aliases are per connection); default its buffer. */
export type Wire = (publish: OutgoingPublish) => Buffer;

export class Outbox {
  readonly #ids: PacketIds;
  readonly #send: Send;
  readonly #wire: Wire;
  readonly #version: ProtocolVersion;
  /** The server's Receive Maximum: QoS 1/2 PUBLISHes unacknowledged at once [MQTT-4.9.0-2]. */
  #window = 65535;
  readonly #queue: OutgoingPublish[] = [];
  readonly #inflight = new Map<number, OutgoingPublish>();
  /** True while the client is reconnecting: nothing leaves, everything stays. */
  #paused = false;

  constructor(ids: PacketIds, version: ProtocolVersion, send: Send, wire: Wire = (publish) => publish.buffer) {
    this.#ids = ids;
    this.#version = version;
    this.#send = send;
    this.#wire = wire;
  }

  set receiveMaximum(value: number) {
    this.#window = value;
  }

  /** QoS 1/2 messages sent and not yet settled. */
  get inflightCount(): number {
    return this.#inflight.size;
  }

  /** Messages held back by the Receive Maximum. */
  get queuedCount(): number {
    return this.#queue.length;
  }

  /** Sends now when the window allows (and nothing is queued ahead, to keep order), else queues. */
  enqueue(publish: OutgoingPublish): void {
    this.#queue.push(publish);
    this.#drain();
  }

  /** The connection is gone and a reconnect will follow: keep the in-flight table and the queue. */
  pause(): void {
    this.#paused = true;
  }

  /**
   * On a new connection: resend every unacknowledged PUBLISH with DUP=1 and a PUBREL for those past
   * PUBREC, in their original order and with their packet ids [MQTT-4.4.0-1], then send what waits.
   */
  resume(): void {
    this.#paused = false;
    for (const publish of this.#inflight.values()) {
      if (publish.awaiting === 'pubcomp') {
        this.#send(encodeAck({ type: 'pubrel', packetId: publish.packetId }, this.#version));
      } else {
        publish.buffer[0] = (publish.buffer[0] as number) | 0x08; // DUP [MQTT-3.3.1-1]
        this.#send(this.#wire(publish));
      }
    }
    this.#drain();
  }

  #drain(): void {
    if (this.#paused) return;
    while (this.#queue.length > 0) {
      const head = this.#queue[0] as OutgoingPublish;
      if (head.qos === 0) {
        this.#queue.shift();
        this.#send(this.#wire(head), (error) => (error ? head.reject(closedError(error)) : head.resolve()));
        continue;
      }
      if (this.#inflight.size >= this.#window) return;
      let id: number;
      try {
        id = this.#ids.allocate();
      } catch {
        return; // ids free up as acknowledgements arrive, and each one drains again
      }
      this.#queue.shift();
      head.packetId = id;
      head.buffer.writeUInt16BE(id, head.idOffset);
      head.awaiting = head.qos === 1 ? 'puback' : 'pubrec';
      this.#inflight.set(id, head);
      this.#send(this.#wire(head));
    }
  }

  onPuback(packetId: number, reasonCode: number, properties: Properties | undefined): void {
    const publish = this.#inflight.get(packetId);
    if (publish === undefined || publish.awaiting !== 'puback') return;
    this.#settle(publish, reasonCode >= 0x80 ? MqttError.fromReason('puback', reasonCode, this.#version, properties) : undefined);
  }

  /** PUBREC: a failure ends the flow [MQTT-4.3.3-4]; success is answered with PUBREL. */
  onPubrec(packetId: number, reasonCode: number, properties: Properties | undefined): void {
    const publish = this.#inflight.get(packetId);
    if (publish === undefined) {
      // Not ours (any more): the spec's answer is PUBREL 0x92 Packet Identifier not found.
      const pubrel = this.#version === 5 ? { type: 'pubrel' as const, packetId, reasonCode: 0x92 } : { type: 'pubrel' as const, packetId };
      if (reasonCode < 0x80) this.#send(encodeAck(pubrel, this.#version));
      return;
    }
    if (reasonCode >= 0x80) {
      if (publish.awaiting === 'pubrec') this.#settle(publish, MqttError.fromReason('pubrec', reasonCode, this.#version, properties));
      return;
    }
    publish.awaiting = 'pubcomp';
    this.#send(encodeAck({ type: 'pubrel', packetId }, this.#version));
  }

  onPubcomp(packetId: number): void {
    const publish = this.#inflight.get(packetId);
    if (publish === undefined || publish.awaiting !== 'pubcomp') return;
    this.#settle(publish, undefined);
  }

  #settle(publish: OutgoingPublish, error: MqttError | undefined): void {
    this.#inflight.delete(publish.packetId);
    this.#ids.release(publish.packetId);
    if (error === undefined) publish.resolve();
    else publish.reject(error);
    this.#drain();
  }

  /** Rejects everything queued or in flight (the connection is gone). */
  failAll(error: Error): void {
    const all = [...this.#inflight.values(), ...this.#queue];
    for (const publish of this.#inflight.values()) this.#ids.release(publish.packetId);
    this.#inflight.clear();
    this.#queue.length = 0;
    for (const publish of all) publish.reject(error);
  }
}

function closedError(cause: Error): MoatError {
  return new MoatError('MOAT_ERR_CONNECTION_CLOSED', `The connection closed before the message was written: ${cause.message}`, { cause });
}

interface PendingRequest {
  readonly kind: 'suback' | 'unsuback';
  readonly count: number;
  readonly resolve: (codes: number[]) => void;
  readonly reject: (error: Error) => void;
}

/** SUBSCRIBE / UNSUBSCRIBE waiting for their SUBACK / UNSUBACK, by packet id. */
export class Requests {
  readonly #ids: PacketIds;
  readonly #version: ProtocolVersion;
  readonly #pending = new Map<number, PendingRequest>();

  constructor(ids: PacketIds, version: ProtocolVersion) {
    this.#ids = ids;
    this.#version = version;
  }

  /** Waits for the ack of `packetId` (already allocated from the shared PacketIds). */
  wait(kind: PendingRequest['kind'], packetId: number, count: number): Promise<number[]> {
    return new Promise((resolve, reject) => this.#pending.set(packetId, { kind, count, resolve, reject }));
  }

  settle(kind: PendingRequest['kind'], packetId: number, reasonCodes: number[]): void {
    const request = this.#pending.get(packetId);
    if (request === undefined || request.kind !== kind) return;
    this.#pending.delete(packetId);
    this.#ids.release(packetId);
    // 3.1.1 UNSUBACK carries no codes: every filter was removed.
    request.resolve(kind === 'unsuback' && this.#version !== 5 ? new Array<number>(request.count).fill(0) : reasonCodes);
  }

  failAll(error: Error): void {
    const all = [...this.#pending.entries()];
    this.#pending.clear();
    for (const [packetId, request] of all) {
      this.#ids.release(packetId);
      request.reject(error);
    }
  }
}
