// fast-check arbitraries for valid MQTT packets of each version, and the normal form a packet
// takes after encode → parse (what the wire cannot express is dropped).
import fc from 'fast-check';
import { PROPERTIES, type PropertyContext } from '../../src/codec/properties.js';
import type { Packet, Properties, ProtocolVersion, QoS } from '../../src/codec/types.js';

type Obj = Record<string, unknown>;

/** MQTT strings: mostly ASCII, sometimes any code point, sometimes longer than the ASCII fast path. */
export const mqttString = (maxLength = 12): fc.Arbitrary<string> =>
  fc
    .oneof(
      { weight: 3, arbitrary: fc.string({ maxLength }) },
      { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength }) },
      { weight: 1, arbitrary: fc.string({ minLength: 33, maxLength: 60 }) },
    )
    .map((s) => s.replace(/\0/g, '_'));

export const topicName = (): fc.Arbitrary<string> =>
  mqttString()
    .map((s) => s.replace(/[+#]/g, '_'))
    .filter((s) => s.length > 0);

export const buffer = (maxLength = 16): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength }).map((u) => Buffer.from(u));

const qos = (): fc.Arbitrary<QoS> => fc.constantFrom(0, 1, 2);
const packetId = (): fc.Arbitrary<number> => fc.integer({ min: 1, max: 65535 });
const byte = (): fc.Arbitrary<number> => fc.integer({ min: 0, max: 255 });

/** Any valid property set for `context`, possibly empty. */
export function properties(context: PropertyContext): fc.Arbitrary<Properties> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const spec of PROPERTIES) {
    if (!(spec.in as readonly string[]).includes(context)) continue;
    const nonZero = 'nonZero' in spec && spec.nonZero;
    switch (spec.kind) {
      case 'byte':
        model[spec.name] = fc.integer({ min: 0, max: spec.max });
        break;
      case 'twoByteInt':
        model[spec.name] = fc.integer({ min: nonZero ? 1 : 0, max: 0xffff });
        break;
      case 'fourByteInt':
        model[spec.name] = fc.integer({ min: nonZero ? 1 : 0, max: 0xffffffff });
        break;
      case 'varint':
        model[spec.name] = fc.array(fc.integer({ min: 1, max: 268435455 }), { minLength: 1, maxLength: context === 'publish' ? 3 : 1 });
        break;
      case 'string':
        // A Response Topic is a Topic Name: no wildcards [MQTT-3.3.2-14].
        model[spec.name] = spec.name === 'responseTopic' ? mqttString().map((t) => t.replace(/[+#]/g, '_')) : mqttString();
        break;
      case 'binary':
        model[spec.name] = buffer();
        break;
      case 'stringPair':
        model[spec.name] = fc.array(fc.tuple(mqttString(6), mqttString(6)), { minLength: 1, maxLength: 3 });
        break;
    }
  }
  return fc.record(model, { requiredKeys: [], noNullPrototype: true }) as fc.Arbitrary<Properties>;
}

const maybeProps = (version: ProtocolVersion, context: PropertyContext): fc.Arbitrary<Properties | undefined> =>
  version === 5 ? fc.option(properties(context), { nil: undefined }) : fc.constant(undefined);

function withOptional(base: Obj, optional: Obj): Obj {
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) base[k] = v;
  return base;
}

export interface PacketArbitraryOptions {
  /** Include AUTH (5.0). Default true. */
  auth?: boolean;
  /** Restrict reason codes per packet type (e.g. to what another codec accepts). Default: any byte. */
  codes?: Partial<Record<'connack' | 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'suback' | 'unsuback' | 'disconnect' | 'auth', readonly number[]>>;
}

export function packet(version: ProtocolVersion, options: PacketArbitraryOptions = {}): fc.Arbitrary<Packet> {
  const code = (type: keyof NonNullable<PacketArbitraryOptions['codes']>): fc.Arbitrary<number> => {
    const list = options.codes?.[type];
    return list === undefined ? byte() : fc.constantFrom(...list);
  };
  const connect = fc
    .record({
      clean: fc.boolean(),
      keepalive: fc.integer({ min: 0, max: 65535 }),
      clientId: mqttString(),
      username: fc.option(mqttString(), { nil: undefined }),
      password: fc.option(buffer(), { nil: undefined }),
      will: fc.option(
        fc.record({ topic: topicName(), payload: buffer(), qos: qos(), retain: fc.boolean(), properties: maybeProps(version, 'will') }),
        { nil: undefined },
      ),
      properties: maybeProps(version, 'connect'),
    })
    .map((r) => {
      const p = withOptional(
        { type: 'connect', protocolName: version === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: version, clean: r.clean, keepalive: r.keepalive, clientId: r.clientId },
        { username: r.username, password: r.password, properties: r.properties },
      );
      // 3.1/3.1.1: a password needs a user name [MQTT-3.1.2-22].
      if (version < 5 && r.password !== undefined && r.username === undefined) p.username = 'u';
      if (r.will) p.will = withOptional({ topic: r.will.topic, payload: r.will.payload, qos: r.will.qos, retain: r.will.retain }, { properties: r.will.properties });
      return p as unknown as Packet;
    });
  const connack = fc
    .record({ sessionPresent: fc.boolean(), reasonCode: code('connack'), properties: maybeProps(version, 'connack') })
    .map((r) => withOptional({ type: 'connack', sessionPresent: r.sessionPresent, reasonCode: r.reasonCode }, { properties: r.properties }) as unknown as Packet);
  const publish = fc
    .record({ topic: topicName(), payload: buffer(64), qos: qos(), retain: fc.boolean(), dup: fc.boolean(), packetId: packetId(), properties: maybeProps(version, 'publish') })
    .map((r) => {
      const p = withOptional({ type: 'publish', topic: r.topic, payload: r.payload, qos: r.qos, retain: r.retain, dup: r.qos > 0 && r.dup }, { properties: r.properties });
      if (r.qos > 0) p.packetId = r.packetId;
      return p as unknown as Packet;
    });
  const ack = fc
    .constantFrom('puback' as const, 'pubrec' as const, 'pubrel' as const, 'pubcomp' as const)
    .chain((type) =>
      fc.record({
        type: fc.constant(type),
        packetId: packetId(),
        reasonCode: version === 5 ? fc.option(code(type), { nil: undefined }) : fc.constant(undefined),
        properties: maybeProps(version, type),
      }),
    )
    .map((r) => withOptional({ type: r.type, packetId: r.packetId }, { reasonCode: r.reasonCode, properties: r.properties }) as unknown as Packet);
  const subscription = fc.record({ filter: mqttString(), qos: qos(), noLocal: fc.boolean(), retainAsPublished: fc.boolean(), retainHandling: fc.constantFrom(0, 1, 2) });
  const subscribe = fc
    .record({ packetId: packetId(), subscriptions: fc.array(subscription, { minLength: 1, maxLength: 4 }), properties: maybeProps(version, 'subscribe') })
    .map((r) => withOptional({ type: 'subscribe', packetId: r.packetId, subscriptions: r.subscriptions.map((s) => ({ ...s })) }, { properties: r.properties }) as unknown as Packet);
  const suback = fc
    .record({ packetId: packetId(), reasonCodes: fc.array(code('suback'), { minLength: 1, maxLength: 5 }), properties: maybeProps(version, 'suback') })
    .map((r) => withOptional({ type: 'suback', packetId: r.packetId, reasonCodes: r.reasonCodes }, { properties: r.properties }) as unknown as Packet);
  const unsubscribe = fc
    .record({ packetId: packetId(), filters: fc.array(mqttString(), { minLength: 1, maxLength: 4 }), properties: maybeProps(version, 'unsubscribe') })
    .map((r) => withOptional({ type: 'unsubscribe', packetId: r.packetId, filters: r.filters }, { properties: r.properties }) as unknown as Packet);
  const unsuback = fc
    .record({ packetId: packetId(), reasonCodes: fc.array(code('unsuback'), { minLength: 1, maxLength: 5 }), properties: maybeProps(version, 'unsuback') })
    .map((r) => withOptional({ type: 'unsuback', packetId: r.packetId, reasonCodes: r.reasonCodes }, { properties: r.properties }) as unknown as Packet);
  const disconnect = fc
    .record({ reasonCode: version === 5 ? fc.option(code('disconnect'), { nil: undefined }) : fc.constant(undefined), properties: maybeProps(version, 'disconnect') })
    .map((r) => withOptional({ type: 'disconnect' }, { reasonCode: r.reasonCode, properties: r.properties }) as unknown as Packet);
  const auth = fc
    .record({ reasonCode: code('auth'), properties: maybeProps(version, 'auth') })
    .map((r) => withOptional({ type: 'auth', reasonCode: r.reasonCode }, { properties: r.properties }) as unknown as Packet);
  const all: Array<fc.Arbitrary<Packet>> = [
    connect,
    connack,
    publish,
    ack,
    subscribe,
    suback,
    unsubscribe,
    unsuback,
    fc.constant({ type: 'pingreq' } as Packet),
    fc.constant({ type: 'pingresp' } as Packet),
    disconnect,
  ];
  if (version === 5 && options.auth !== false) all.push(auth);
  return fc.oneof(...all);
}

function normalProps(p: Properties | undefined): Properties | undefined {
  if (p === undefined) return undefined;
  const out: Obj = {};
  for (const [k, v] of Object.entries(p)) {
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  return Object.keys(out).length === 0 ? undefined : (out as Properties);
}

/** What `p`, encoded for `version` and parsed back, decodes to. */
export function normalForm(p: Packet, version: ProtocolVersion): Packet {
  const o: Obj = { ...p };
  const props = version === 5 && 'properties' in p ? normalProps(p.properties) : undefined;
  delete o.properties;
  if (props !== undefined) o.properties = props;
  switch (p.type) {
    case 'connect':
      if (p.will) {
        const w: Obj = { ...p.will };
        delete w.properties;
        const wp = version === 5 ? normalProps(p.will.properties) : undefined;
        if (wp !== undefined) w.properties = wp;
        o.will = w;
      }
      break;
    case 'connack':
      if (version === 3) o.sessionPresent = false;
      break;
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'disconnect':
      if (version < 5) delete o.reasonCode;
      else if (props === undefined && (o.reasonCode === 0 || o.reasonCode === undefined)) delete o.reasonCode;
      else if (props !== undefined && o.reasonCode === undefined) o.reasonCode = 0;
      break;
    case 'subscribe':
      if (version < 5) o.subscriptions = p.subscriptions.map((s) => ({ filter: s.filter, qos: s.qos, noLocal: false, retainAsPublished: false, retainHandling: 0 }));
      else o.subscriptions = p.subscriptions.map((s) => ({ ...s }));
      break;
    case 'unsuback':
      if (version < 5) o.reasonCodes = [];
      break;
    default:
      break;
  }
  return o as unknown as Packet;
}
