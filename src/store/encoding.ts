// How durable stores write records: v8-serialized (Buffers, undefined fields and properties
// round-trip as given), a message with its data fields only, never a wire copy or access object of
// this process. Shared by the SQLite and Redis stores.
import { serialize } from 'node:v8';
import type { DeliveryRecord, StoredMessage } from './store.js';

/** The data fields of `message` (whatever else the broker's message object carries stays out). */
export function storedFields(message: StoredMessage): StoredMessage {
  const { topic, payload, qos, retain, properties, expiresAt, origin } = message;
  return { topic, payload, qos, retain, properties, expiresAt, origin };
}

/** A queued or in-flight record, its message reduced to its data fields. */
export function encodeDelivery(record: DeliveryRecord): Buffer {
  return serialize({ ...record, message: storedFields(record.message) });
}
