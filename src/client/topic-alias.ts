// Outgoing topic aliases (MQTT 5): when the server's CONNACK allows them (Topic Alias Maximum > 0),
// the first PUBLISH of a topic carries the topic and a new alias, later ones an empty topic and the
// alias. Aliases live for one connection [MQTT-3.3.2-7], so they are applied to the encoded bytes
// when a PUBLISH is written, never stored in the in-flight record: a resend after a reconnect goes
// through the new connection's (empty) table and carries the full topic again.
import { varintLength, writeVarint } from '../codec/properties.js';

/** The parts of an encoded MQTT 5 PUBLISH that matter here. */
interface PublishLayout {
  /** Offset of the topic length field. */
  readonly topicAt: number;
  readonly topicLength: number;
  /** Packet id bytes after the topic: 0 or 2. */
  readonly idLength: number;
  /** Offset of the property length varint. */
  readonly propertiesAt: number;
  readonly propertiesLength: number;
  /** Offset of the first property (just after the varint). */
  readonly firstProperty: number;
}

function readVarint(buffer: Buffer, offset: number): { value: number; next: number } {
  let value = 0;
  let multiplier = 1;
  let byte: number;
  do {
    byte = buffer[offset++] as number;
    value += (byte & 0x7f) * multiplier;
    multiplier *= 128;
  } while ((byte & 0x80) !== 0);
  return { value, next: offset };
}

function layout(buffer: Buffer): PublishLayout {
  const topicAt = readVarint(buffer, 1).next;
  const topicLength = buffer.readUInt16BE(topicAt);
  const idLength = (((buffer[0] as number) >> 1) & 0x03) > 0 ? 2 : 0;
  const propertiesAt = topicAt + 2 + topicLength + idLength;
  const { value: propertiesLength, next: firstProperty } = readVarint(buffer, propertiesAt);
  return { topicAt, topicLength, idLength, propertiesAt, propertiesLength, firstProperty };
}

/** The topic name of an encoded PUBLISH. */
export function publishTopic(buffer: Buffer): string {
  const { topicAt, topicLength } = layout(buffer);
  return buffer.toString('utf8', topicAt + 2, topicAt + 2 + topicLength);
}

/**
 * A copy of the encoded MQTT 5 PUBLISH `buffer` with a Topic Alias property (0x23) added and the
 * topic kept (`keepTopic`) or emptied. Flags, packet id, other properties and payload are copied.
 */
export function withTopicAlias(buffer: Buffer, alias: number, keepTopic: boolean): Buffer {
  const l = layout(buffer);
  const topicBytes = keepTopic ? l.topicLength : 0;
  const propertiesLength = l.propertiesLength + 3;
  const payloadAt = l.firstProperty + l.propertiesLength;
  const payloadLength = buffer.length - payloadAt;
  const remaining = 2 + topicBytes + l.idLength + varintLength(propertiesLength) + propertiesLength + payloadLength;
  const out = Buffer.allocUnsafe(1 + varintLength(remaining) + remaining);
  out[0] = buffer[0] as number;
  let pos = writeVarint(out, 1, remaining);
  pos = out.writeUInt16BE(topicBytes, pos);
  if (keepTopic) pos += buffer.copy(out, pos, l.topicAt + 2, l.topicAt + 2 + l.topicLength);
  pos += buffer.copy(out, pos, l.topicAt + 2 + l.topicLength, l.propertiesAt); // packet id
  pos = writeVarint(out, pos, propertiesLength);
  out[pos++] = 0x23;
  pos = out.writeUInt16BE(alias, pos);
  buffer.copy(out, pos, l.firstProperty);
  return out;
}

/**
 * The alias table of one connection, as the server sees it: aliases this client assigned, plus
 * those the caller set by hand (properties.topicAlias), so the two never disagree.
 */
export class TopicAliases {
  #maximum = 0;
  #maxPacketSize = Infinity;
  readonly #byTopic = new Map<string, number>();
  readonly #byAlias = new Map<number, string>();
  #next = 1;

  /** A new connection: forget every alias; `maximum` is the server's Topic Alias Maximum (0: none). */
  reset(maximum: number, maxPacketSize: number): void {
    this.#maximum = maximum;
    this.#maxPacketSize = maxPacketSize;
    this.#byTopic.clear();
    this.#byAlias.clear();
    this.#next = 1;
  }

  /** Aliases in use on this connection. */
  get size(): number {
    return this.#byAlias.size;
  }

  /** The topic `alias` stands for on this connection, if any. */
  topicFor(alias: number): string | undefined {
    return this.#byAlias.get(alias);
  }

  /**
   * The bytes to write for the encoded PUBLISH `buffer` (its topic always in full, no alias
   * property). `callerAlias`: the caller chose that alias number, so it is used for this topic
   * (topic + alias the first time on this connection, alias alone after) instead of a free one.
   */
  apply(buffer: Buffer, callerAlias: number | undefined): Buffer {
    if (this.#maximum === 0) return buffer;
    const topic = publishTopic(buffer);
    if (callerAlias !== undefined) {
      if (this.#byAlias.get(callerAlias) === topic) return withTopicAlias(buffer, callerAlias, false);
      this.#remember(topic, callerAlias);
      return withTopicAlias(buffer, callerAlias, true);
    }
    const known = this.#byTopic.get(topic);
    if (known !== undefined) return withTopicAlias(buffer, known, false);
    const alias = this.#free();
    if (alias === undefined) return buffer; // all aliases taken: plain topics from here on
    const aliased = withTopicAlias(buffer, alias, true);
    if (aliased.length > this.#maxPacketSize) return buffer; // 3 bytes more would break the server's Maximum Packet Size
    this.#remember(topic, alias);
    return aliased;
  }

  #remember(topic: string, alias: number): void {
    const previous = this.#byAlias.get(alias);
    if (previous !== undefined) this.#byTopic.delete(previous);
    this.#byAlias.set(alias, topic);
    this.#byTopic.set(topic, alias);
  }

  #free(): number | undefined {
    while (this.#next <= this.#maximum && this.#byAlias.has(this.#next)) this.#next++;
    return this.#next <= this.#maximum ? this.#next : undefined;
  }
}
