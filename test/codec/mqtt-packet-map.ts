// Mapping between moat's packet objects and mqtt-packet's, for the differential tests.
// Differences: cmd vs type, messageId vs packetId, returnCode (3.1.1 CONNACK), protocolId vs
// protocolName, granted vs reasonCodes, unsubscriptions vs filters, subscription nl/rap/rh/topic,
// subscriptionIdentifier (number | number[]) vs subscriptionIdentifiers (number[]), boolean-valued
// byte properties, userProperties as {name: value | value[]} vs [name, value][].
import type { Packet, Properties, ProtocolVersion } from '../../src/codec/types.js';

type Obj = Record<string, unknown>;

/** Byte properties mqtt-packet represents as booleans (maximumQoS stays a number there). */
const BOOLEAN_PROPS = [
  'payloadFormatIndicator',
  'requestProblemInformation',
  'requestResponseInformation',
  'retainAvailable',
  'wildcardSubscriptionAvailable',
  'subscriptionIdentifiersAvailable',
  'sharedSubscriptionAvailable',
];

export function propsToTheirs(props: Properties | undefined, single = false): Obj | undefined {
  if (props === undefined) return undefined;
  const out: Obj = {};
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined) continue;
    if (k === 'subscriptionIdentifiers') {
      const ids = v as number[];
      if (ids.length === 0) continue;
      out.subscriptionIdentifier = single || ids.length === 1 ? ids[0] : ids;
    } else if (k === 'userProperties') {
      const pairs = v as Array<[string, string]>;
      if (pairs.length === 0) continue;
      const up: Record<string, string | string[]> = {};
      for (const [name, value] of pairs) {
        const cur = up[name];
        if (cur === undefined) up[name] = value;
        else if (Array.isArray(cur)) cur.push(value);
        else up[name] = [cur, value];
      }
      out.userProperties = up;
    } else if (BOOLEAN_PROPS.includes(k)) {
      out[k] = v !== 0;
    } else {
      out[k] = v;
    }
  }
  return out;
}

export function propsFromTheirs(props: unknown): Properties | undefined {
  if (props === undefined || props === null) return undefined;
  const out: Obj = {};
  for (const [k, v] of Object.entries(props as Obj)) {
    if (k === 'subscriptionIdentifier') {
      out.subscriptionIdentifiers = Array.isArray(v) ? v : [v];
    } else if (k === 'userProperties') {
      const pairs: Array<[string, string]> = [];
      for (const [name, value] of Object.entries(v as Obj)) {
        if (Array.isArray(value)) for (const x of value) pairs.push([name, String(x)]);
        else pairs.push([name, String(value)]);
      }
      out.userProperties = pairs;
    } else if (BOOLEAN_PROPS.includes(k)) {
      out[k] = v === true || v === 1 ? 1 : 0;
    } else {
      out[k] = v;
    }
  }
  return Object.keys(out).length === 0 ? undefined : (out as Properties);
}

function put(o: Obj, k: string, v: unknown): void {
  if (v !== undefined) o[k] = v;
}

export function toTheirs(p: Packet, version: ProtocolVersion): Obj {
  const o: Obj = { cmd: p.type };
  switch (p.type) {
    case 'connect':
      Object.assign(o, { protocolId: p.protocolName, protocolVersion: p.protocolVersion, clean: p.clean, keepalive: p.keepalive, clientId: p.clientId });
      put(o, 'username', p.username);
      put(o, 'password', p.password);
      if (p.will) {
        const w: Obj = { topic: p.will.topic, payload: p.will.payload, qos: p.will.qos, retain: p.will.retain };
        put(w, 'properties', propsToTheirs(p.will.properties));
        o.will = w;
      }
      break;
    case 'connack':
      o.sessionPresent = p.sessionPresent;
      if (version === 5) o.reasonCode = p.reasonCode;
      else o.returnCode = p.reasonCode;
      break;
    case 'publish':
      Object.assign(o, { topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain, dup: p.dup });
      put(o, 'messageId', p.packetId);
      break;
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      o.messageId = p.packetId;
      put(o, 'reasonCode', p.reasonCode);
      break;
    case 'subscribe':
      o.messageId = p.packetId;
      o.subscriptions = p.subscriptions.map((s) =>
        version === 5 ? { topic: s.filter, qos: s.qos, nl: s.noLocal, rap: s.retainAsPublished, rh: s.retainHandling } : { topic: s.filter, qos: s.qos },
      );
      put(o, 'properties', propsToTheirs(p.properties, true));
      return o;
    case 'suback':
    case 'unsuback':
      o.messageId = p.packetId;
      o.granted = p.reasonCodes;
      break;
    case 'unsubscribe':
      o.messageId = p.packetId;
      o.unsubscriptions = p.filters;
      break;
    case 'disconnect':
    case 'auth':
      put(o, 'reasonCode', p.reasonCode);
      break;
    default:
      break;
  }
  if ('properties' in p) put(o, 'properties', propsToTheirs(p.properties));
  return o;
}

const num = (v: unknown): number => v as number;

export function fromTheirs(o: Obj, version: ProtocolVersion): Packet {
  const props = version === 5 ? propsFromTheirs(o.properties) : undefined;
  const withProps = <T extends Obj>(x: T): T => {
    if (props !== undefined) (x as Obj).properties = props;
    return x;
  };
  switch (o.cmd) {
    case 'connect': {
      const p: Obj = {
        type: 'connect',
        protocolName: o.protocolId,
        protocolVersion: o.protocolVersion,
        clean: o.clean,
        keepalive: o.keepalive,
        clientId: o.clientId,
      };
      put(p, 'username', o.username);
      put(p, 'password', o.password);
      const w = o.will as Obj | undefined;
      if (w) {
        const will: Obj = { topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain };
        const wp = version === 5 ? propsFromTheirs(w.properties) : undefined;
        if (wp !== undefined) will.properties = wp;
        p.will = will;
      }
      return withProps(p) as unknown as Packet;
    }
    case 'connack':
      return withProps({ type: 'connack', sessionPresent: o.sessionPresent, reasonCode: version === 5 ? num(o.reasonCode) : num(o.returnCode) }) as unknown as Packet;
    case 'publish': {
      const p: Obj = { type: 'publish', topic: o.topic, payload: o.payload, qos: o.qos, retain: o.retain, dup: o.dup };
      if (num(o.qos) > 0) p.packetId = o.messageId;
      return withProps(p) as unknown as Packet;
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      const p: Obj = { type: o.cmd, packetId: o.messageId };
      if (version === 5) put(p, 'reasonCode', o.reasonCode);
      return withProps(p) as unknown as Packet;
    }
    case 'subscribe':
      return withProps({
        type: 'subscribe',
        packetId: o.messageId,
        subscriptions: (o.subscriptions as Obj[]).map((s) => ({
          filter: s.topic,
          qos: s.qos,
          noLocal: version === 5 ? Boolean(s.nl) : false,
          retainAsPublished: version === 5 ? Boolean(s.rap) : false,
          retainHandling: version === 5 ? num(s.rh ?? 0) : 0,
        })),
      }) as unknown as Packet;
    case 'suback':
      return withProps({ type: 'suback', packetId: o.messageId, reasonCodes: o.granted }) as unknown as Packet;
    case 'unsuback':
      return withProps({ type: 'unsuback', packetId: o.messageId, reasonCodes: version === 5 ? o.granted : [] }) as unknown as Packet;
    case 'unsubscribe':
      return withProps({ type: 'unsubscribe', packetId: o.messageId, filters: o.unsubscriptions }) as unknown as Packet;
    case 'pingreq':
      return { type: 'pingreq' };
    case 'pingresp':
      return { type: 'pingresp' };
    case 'disconnect': {
      const p: Obj = { type: 'disconnect' };
      if (version === 5) put(p, 'reasonCode', o.reasonCode);
      return withProps(p) as unknown as Packet;
    }
    case 'auth':
      return withProps({ type: 'auth', reasonCode: num(o.reasonCode ?? 0) }) as unknown as Packet;
    default:
      throw new Error(`unknown cmd ${String(o.cmd)}`);
  }
}

/**
 * Canonical form for comparing across codecs: user properties grouped by name, names sorted
 * (mqtt-packet keeps per-name order only), Uint8Array payloads as Buffers, reasonCode 0 on acks/DISCONNECT dropped when
 * there are no properties (both forms encode the same).
 */
export function canonical(p: Packet): unknown {
  if ((p.type === 'puback' || p.type === 'pubrec' || p.type === 'pubrel' || p.type === 'pubcomp' || p.type === 'disconnect') && p.reasonCode === 0 && p.properties === undefined) {
    const { reasonCode: _omitted, ...rest } = p;
    p = rest as Packet;
  }
  return JSON.parse(
    JSON.stringify(p, (key, value: unknown) => {
      if (key === 'userProperties' && Array.isArray(value)) {
        const pairs = value as Array<[string, string]>;
        // Sorted: mqtt-packet's object loses the order between names (integer-like keys go first).
        const names = [...new Set(pairs.map(([n]) => n))].sort();
        return names.flatMap((n) => pairs.filter(([m]) => m === n));
      }
      return value;
    }),
  );
}
