// How durable stores write messages: a compact binary record (below) for the rows written per
// message (retained messages, queue entries, in-flight messages), because with persistent sessions
// every QoS 1/2 delivery writes one and v8.serialize cost more than the SQL statement itself. Only
// the data fields of a message are written, never a wire copy or access object of this process.
// Rarely present parts (MQTT 5 properties) are v8-serialized inside the record. Session records
// stay v8-serialized: one per CONNECT, not per message. A row that starts with 0xFF is a v8 blob
// from before this format (v8.serialize's version tag) and is still read. Shared by the SQLite
// and Redis stores.
//
// Record: u8 format (1) | u8 kind (0 message, 1 queued, 2 in flight) | u8 flags | u8 state
//         (in flight: 0 publish, 1 pubrel) | f64 id or packet id | f64 expiresAt |
//         u32 topic bytes | u16 origin bytes | [u16 n, n × u32 subscription identifiers] |
//         [u32 bytes of v8-serialized properties] | topic | origin | properties | payload
// flags: bits 0-1 message QoS, 2 message retain, 3-4 delivery QoS, 5 delivery retain,
//        6 properties present, 7 subscription identifiers present.
import { deserialize, serialize } from 'node:v8';
import type { QoS } from '../codec/types.js';
import type { DeliveryRecord, InflightRecord, QueuedRecord, StoredMessage } from './store.js';

const FORMAT = 1;
const V8_TAG = 0xff;
const KIND = { message: 0, queued: 1, inflight: 2 } as const;

/** The data fields of `message` (whatever else the broker's message object carries stays out). */
export function storedFields(message: StoredMessage): StoredMessage {
  const { topic, payload, qos, retain, properties, expiresAt, origin } = message;
  return { topic, payload, qos, retain, properties, expiresAt, origin };
}

function encode(kind: number, message: StoredMessage, delivery: DeliveryRecord | undefined, id: number, state: number): Buffer {
  const topicBytes = Buffer.byteLength(message.topic);
  const originBytes = Buffer.byteLength(message.origin);
  const properties = message.properties === undefined ? undefined : serialize(message.properties);
  const ids = delivery?.subscriptionIdentifiers;
  const head = 28 + (ids === undefined ? 0 : 2 + 4 * ids.length) + (properties === undefined ? 0 : 4);
  const out = Buffer.allocUnsafe(head + topicBytes + originBytes + (properties?.length ?? 0) + message.payload.length);
  let flags = message.qos | (message.retain ? 4 : 0);
  if (delivery !== undefined) flags |= (delivery.qos << 3) | (delivery.retain ? 32 : 0);
  if (properties !== undefined) flags |= 64;
  if (ids !== undefined) flags |= 128;
  out[0] = FORMAT;
  out[1] = kind;
  out[2] = flags;
  out[3] = state;
  out.writeDoubleLE(id, 4);
  out.writeDoubleLE(message.expiresAt, 12);
  out.writeUInt32LE(topicBytes, 20);
  out.writeUInt16LE(originBytes, 24);
  let at = 28;
  if (ids !== undefined) {
    out.writeUInt16LE(ids.length, at);
    at += 2;
    for (const value of ids) {
      out.writeUInt32LE(value, at);
      at += 4;
    }
  }
  if (properties !== undefined) {
    out.writeUInt32LE(properties.length, at);
    at += 4;
  }
  at += out.write(message.topic, at, 'utf8');
  at += out.write(message.origin, at, 'utf8');
  if (properties !== undefined) at += properties.copy(out, at);
  message.payload.copy(out, at);
  return out;
}

interface Decoded {
  readonly kind: number;
  readonly message: StoredMessage;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly subscriptionIdentifiers: number[] | undefined;
  readonly id: number;
  readonly state: number;
}

function decode(row: Buffer): Decoded {
  const flags = row[2] ?? 0;
  const id = row.readDoubleLE(4);
  const expiresAt = row.readDoubleLE(12);
  const topicBytes = row.readUInt32LE(20);
  const originBytes = row.readUInt16LE(24);
  let at = 28;
  let subscriptionIdentifiers: number[] | undefined;
  if ((flags & 128) !== 0) {
    const count = row.readUInt16LE(at);
    at += 2;
    subscriptionIdentifiers = [];
    for (let i = 0; i < count; i++, at += 4) subscriptionIdentifiers.push(row.readUInt32LE(at));
  }
  let propertyBytes = 0;
  if ((flags & 64) !== 0) {
    propertyBytes = row.readUInt32LE(at);
    at += 4;
  }
  const topic = row.toString('utf8', at, (at += topicBytes));
  const origin = row.toString('utf8', at, (at += originBytes));
  const properties = propertyBytes === 0 ? undefined : deserialize(row.subarray(at, (at += propertyBytes)));
  // A copy: a row buffer may be pooled or reused by the driver.
  const payload = Buffer.from(row.subarray(at));
  const message: StoredMessage = { topic, payload, qos: (flags & 3) as QoS, retain: (flags & 4) !== 0, properties, expiresAt, origin };
  return { kind: row[1] ?? 0, message, qos: ((flags >> 3) & 3) as QoS, retain: (flags & 32) !== 0, subscriptionIdentifiers, id, state: row[3] ?? 0 };
}

/** A retained message's row. */
export function encodeMessage(message: StoredMessage): Buffer {
  return encode(KIND.message, message, undefined, 0, 0);
}

export function decodeMessage<M extends StoredMessage>(row: Buffer): M {
  if (row[0] === V8_TAG) return deserialize(row) as M;
  return decode(row).message as M;
}

export function encodeQueued(record: QueuedRecord): Buffer {
  return encode(KIND.queued, record.message, record, record.id, 0);
}

export function decodeQueued<M extends StoredMessage>(row: Buffer): QueuedRecord<M> {
  if (row[0] === V8_TAG) return deserialize(row) as QueuedRecord<M>;
  const d = decode(row);
  return { id: d.id, message: d.message as M, qos: d.qos, retain: d.retain, subscriptionIdentifiers: d.subscriptionIdentifiers };
}

export function encodeInflight(record: InflightRecord): Buffer {
  return encode(KIND.inflight, record.message, record, record.packetId, record.state === 'pubrel' ? 1 : 0);
}

export function decodeInflight<M extends StoredMessage>(row: Buffer): InflightRecord<M> {
  if (row[0] === V8_TAG) return deserialize(row) as InflightRecord<M>;
  const d = decode(row);
  return { packetId: d.id, state: d.state === 1 ? 'pubrel' : 'publish', message: d.message as M, qos: d.qos, retain: d.retain, subscriptionIdentifiers: d.subscriptionIdentifiers };
}
