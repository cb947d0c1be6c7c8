// Incoming PUBLISH state for one connection: the topic aliases the server set, and the QoS 2
// packet ids received but not yet released (so a resent PUBLISH is delivered once).
import type { PublishPacket } from '../codec/types.js';
import type { ReceivedMessage } from './message-stream.js';

export type Received =
  | { readonly ok: true; readonly message: ReceivedMessage; /** false for a QoS 2 duplicate */ readonly deliver: boolean }
  | { readonly ok: false; readonly reasonCode: number; readonly detail: string };

export class Inbound {
  /** The Topic Alias Maximum this client sent in CONNECT. */
  readonly #aliasMaximum: number;
  /** alias → topic, as the server set them [MQTT-3.3.2-12]. */
  readonly #aliases = new Map<number, string>();
  readonly #qos2 = new Set<number>();

  constructor(aliasMaximum: number) {
    this.#aliasMaximum = aliasMaximum;
  }

  /** Resolves the topic alias and checks for a QoS 2 duplicate; a violation says what to DISCONNECT with. */
  receive(packet: PublishPacket): Received {
    let { topic, properties } = packet;
    const alias = properties?.topicAlias;
    if (properties !== undefined && alias !== undefined) {
      const max = this.#aliasMaximum;
      if (alias < 1 || alias > max) {
        return { ok: false, reasonCode: 0x94, detail: `the server used topic alias ${alias}, but this client allows 1..${max} (CONNECT Topic Alias Maximum) [MQTT-3.3.2-9]` };
      }
      if (topic === '') {
        const known = this.#aliases.get(alias);
        if (known === undefined) return { ok: false, reasonCode: 0x82, detail: `the server used topic alias ${alias} before setting it [MQTT-3.3.2-12]` };
        topic = known;
      } else {
        this.#aliases.set(alias, topic);
      }
      const { topicAlias: _resolved, ...rest } = properties;
      properties = Object.keys(rest).length > 0 ? rest : undefined;
    } else if (topic === '') {
      return { ok: false, reasonCode: 0x82, detail: 'the server sent a PUBLISH with an empty topic and no topic alias [MQTT-4.7.3-1]' };
    }
    const { payload, qos, retain, dup, packetId } = packet;
    const message: ReceivedMessage = properties === undefined ? { topic, payload, qos, retain, dup } : { topic, payload, qos, retain, dup, properties };
    // Method A [MQTT-4.3.3-9]: deliver once, remember the id until PUBREL.
    if (qos === 2 && packetId !== undefined) {
      if (this.#qos2.has(packetId)) return { ok: true, message, deliver: false };
      this.#qos2.add(packetId);
    }
    return { ok: true, message, deliver: true };
  }

  /** A new connection (reconnect): topic aliases are per connection [MQTT-3.3.2-7]; QoS 2 ids belong to the session and stay. */
  newConnection(): void {
    this.#aliases.clear();
  }

  /** PUBREL: forget the id; false when it was not known (PUBCOMP 0x92 under MQTT 5). */
  release(packetId: number): boolean {
    return this.#qos2.delete(packetId);
  }
}
