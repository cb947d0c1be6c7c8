// The one reason-code table of the project: the broker, the client, the CLI and the dashboard all
// read it, so a code's name, the packets that may carry it and the advice we give live in one place.
// Names and packet lists follow MQTT 5.0 Table 2-6 and MQTT 3.1.1 sections 3.2.2.3 / 3.9.3 exactly;
// tests pin them, because an earlier draft got 0x86, 0x88, 0x95 and 0x9F wrong.

import type { PacketTypeName, ProtocolVersion } from './types.js';

export interface ReasonCodeInfo {
  readonly code: number;
  /** The spec's wording. */
  readonly name: string;
  /** Packet types that may carry this code with this meaning; empty for an unknown code. */
  readonly packets: readonly PacketTypeName[];
  /** What happened, in one sentence. */
  readonly meaning: string;
  /** What the user should do about it. */
  readonly remedy: string;
}

export interface DescribeReasonOptions {
  /** The packet that carried the code; picks the meaning where a code has several (0x00, ...). */
  packet?: PacketTypeName;
  /** 3 and 4 use the MQTT 3.1/3.1.1 return codes for CONNACK and SUBACK. Default 5. */
  protocolVersion?: ProtocolVersion;
}

/** MQTT 5.0 reason codes by name. Several names share a value, as in the spec. */
export const ReasonCode = {
  Success: 0x00,
  NormalDisconnection: 0x00,
  GrantedQoS0: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWillMessage: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  ContinueAuthentication: 0x18,
  ReAuthenticate: 0x19,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8a,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  MessageRateTooHigh: 0x96,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9a,
  QoSNotSupported: 0x9b,
  UseAnotherServer: 0x9c,
  ServerMoved: 0x9d,
  SharedSubscriptionsNotSupported: 0x9e,
  ConnectionRateExceeded: 0x9f,
  MaximumConnectTime: 0xa0,
  SubscriptionIdentifiersNotSupported: 0xa1,
  WildcardSubscriptionsNotSupported: 0xa2,
} as const;
export type ReasonCodeName = keyof typeof ReasonCode;
export type ReasonCodeValue = (typeof ReasonCode)[ReasonCodeName];

/** MQTT 3.1 / 3.1.1 CONNACK return codes (3.1.1 section 3.2.2.3). */
export const ConnectReturnCode = {
  Accepted: 0,
  UnacceptableProtocolVersion: 1,
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUserNameOrPassword: 4,
  NotAuthorized: 5,
} as const;
export type ConnectReturnCodeName = keyof typeof ConnectReturnCode;
export type ConnectReturnCodeValue = (typeof ConnectReturnCode)[ConnectReturnCodeName];

/** MQTT 3.1.1 SUBACK return codes (section 3.9.3): the granted QoS, or 0x80 Failure. */
export const SubackReturnCode = {
  GrantedQoS0: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  Failure: 0x80,
} as const;

const PUB_ACKS: readonly PacketTypeName[] = ['puback', 'pubrec'];
const GENERAL_FAILURE: readonly PacketTypeName[] = ['connack', 'puback', 'pubrec', 'suback', 'unsuback', 'disconnect'];

/** MQTT 5.0 Table 2-6, one entry per (code, meaning). */
export const REASON_CODES: readonly ReasonCodeInfo[] = freezeAll([
  {
    code: 0x00, name: 'Success',
    packets: ['connack', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'unsuback', 'auth'],
    meaning: 'The operation completed successfully.',
    remedy: 'Nothing to do.',
  },
  {
    code: 0x00, name: 'Normal disconnection', packets: ['disconnect'],
    meaning: 'The connection was closed normally; the Will Message is not published.',
    remedy: 'Nothing to do.',
  },
  {
    code: 0x00, name: 'Granted QoS 0', packets: ['suback'],
    meaning: 'The subscription was accepted; messages will be delivered at most at QoS 0.',
    remedy: 'Nothing to do; if you asked for a higher QoS, check the broker\'s max_qos setting.',
  },
  {
    code: 0x01, name: 'Granted QoS 1', packets: ['suback'],
    meaning: 'The subscription was accepted; messages will be delivered at most at QoS 1.',
    remedy: 'Nothing to do; if you asked for QoS 2, check the broker\'s max_qos setting.',
  },
  {
    code: 0x02, name: 'Granted QoS 2', packets: ['suback'],
    meaning: 'The subscription was accepted; messages will be delivered at up to QoS 2.',
    remedy: 'Nothing to do.',
  },
  {
    code: 0x04, name: 'Disconnect with Will Message', packets: ['disconnect'],
    meaning: 'The client disconnected on purpose and asked the server to publish its Will Message.',
    remedy: 'Nothing to do; subscribers of the will topic will receive the Will Message.',
  },
  {
    code: 0x10, name: 'No matching subscribers', packets: PUB_ACKS,
    meaning: 'The message was accepted, but no subscription matches its topic.',
    remedy: 'Check the topic for typos, or subscribe to it (moat sub -t <topic>) before publishing.',
  },
  {
    code: 0x11, name: 'No subscription existed', packets: ['unsuback'],
    meaning: 'The client unsubscribed from a topic filter it was not subscribed to.',
    remedy: 'Unsubscribe with exactly the filter string used to subscribe (filters are compared literally).',
  },
  {
    code: 0x18, name: 'Continue authentication', packets: ['auth'],
    meaning: 'Enhanced authentication needs another exchange of AUTH packets.',
    remedy: 'Reply with an AUTH packet carrying the next step of the authentication method.',
  },
  {
    code: 0x19, name: 'Re-authenticate', packets: ['auth'],
    meaning: 'The client started a re-authentication on an existing connection.',
    remedy: 'Nothing to do; the server continues the exchange with AUTH packets.',
  },
  {
    code: 0x80, name: 'Unspecified error', packets: GENERAL_FAILURE,
    meaning: 'The request was refused and the sender did not say why.',
    remedy: 'Look in the broker log for the client id around that time; it records the actual cause.',
  },
  {
    code: 0x81, name: 'Malformed Packet', packets: ['connack', 'disconnect'],
    meaning: 'A packet did not conform to the MQTT specification and could not be decoded.',
    remedy: 'Fix or upgrade the client library; `moat debug` shows the offending bytes.',
  },
  {
    code: 0x82, name: 'Protocol Error', packets: ['connack', 'disconnect'],
    meaning: 'A well-formed packet arrived that is not allowed at that point (e.g. a second CONNECT).',
    remedy: 'Fix the client so it follows the protocol flow; `moat debug` shows the packet sequence.',
  },
  {
    code: 0x83, name: 'Implementation specific error', packets: GENERAL_FAILURE,
    meaning: 'The packet was valid, but this implementation will not process it.',
    remedy: 'Check the reason string and the broker log for the broker-specific cause.',
  },
  {
    code: 0x84, name: 'Unsupported Protocol Version', packets: ['connack'],
    meaning: 'The server does not support the MQTT protocol version the client asked for.',
    remedy: 'Connect with MQTT 3.1.1 or 5.0 (protocolVersion 4 or 5), or upgrade the broker.',
  },
  {
    code: 0x85, name: 'Client Identifier not valid', packets: ['connack'],
    meaning: 'The client identifier is well formed but the server does not allow it.',
    remedy: 'Use a unique client id of 1-23 letters and digits, or allow an empty id with allow_zero_length_clientid and clean start.',
  },
  {
    code: 0x86, name: 'Bad User Name or Password', packets: ['connack'],
    meaning: 'The server did not accept the user name or password.',
    remedy: 'Check the user name and password; with Mosquitto-style password files, recreate the entry with `moat passwd`.',
  },
  {
    code: 0x87, name: 'Not authorized', packets: GENERAL_FAILURE,
    meaning: 'The client is not allowed to do this (connect, publish or subscribe to this topic).',
    remedy: 'Grant access in the ACL file (acl_file: `user <name>` then `topic readwrite <filter>`), or set allow_anonymous true for anonymous clients.',
  },
  {
    code: 0x88, name: 'Server unavailable', packets: ['connack'],
    meaning: 'The MQTT server is not available to accept the connection.',
    remedy: 'Retry later with exponential backoff; check that the broker is running and healthy (/healthz).',
  },
  {
    code: 0x89, name: 'Server busy', packets: ['connack', 'disconnect'],
    meaning: 'The server is busy and will not serve this client right now.',
    remedy: 'Retry later with exponential backoff and jitter; if it persists, raise max_connections or add capacity.',
  },
  {
    code: 0x8a, name: 'Banned', packets: ['connack'],
    meaning: 'This client has been banned by administrative action.',
    remedy: 'Contact the broker administrator; reconnecting will not help until the ban is lifted.',
  },
  {
    code: 0x8b, name: 'Server shutting down', packets: ['disconnect'],
    meaning: 'The server is shutting down.',
    remedy: 'Reconnect with backoff, to this server once it is back or to another one.',
  },
  {
    code: 0x8c, name: 'Bad authentication method', packets: ['connack', 'disconnect'],
    meaning: 'The authentication method is not supported or does not match the one in use.',
    remedy: 'Use an authentication method the broker supports, or drop the Authentication Method property to use user name and password.',
  },
  {
    code: 0x8d, name: 'Keep Alive timeout', packets: ['disconnect'],
    meaning: 'No packet arrived from the client within 1.5 times its Keep Alive interval.',
    remedy: 'Make sure the client sends PINGREQ in time (event loop not blocked), or increase its keepalive.',
  },
  {
    code: 0x8e, name: 'Session taken over', packets: ['disconnect'],
    meaning: 'Another connection with the same client identifier connected and replaced this one.',
    remedy: 'Give every client instance a unique client id; two clients sharing an id keep kicking each other off.',
  },
  {
    code: 0x8f, name: 'Topic Filter invalid', packets: ['suback', 'unsuback', 'disconnect'],
    meaning: 'The topic filter is correctly formed but the server does not accept it.',
    remedy: 'Check the filter: + and # must fill a whole level, # only last, and $share/<group>/<filter> needs a group and a filter.',
  },
  {
    code: 0x90, name: 'Topic Name invalid', packets: ['connack', 'puback', 'pubrec', 'disconnect'],
    meaning: 'The topic name is correctly formed but not accepted by the receiver.',
    remedy: 'Publish to a topic name without + or #, not empty, and allowed by the broker (e.g. not under $SYS).',
  },
  {
    code: 0x91, name: 'Packet Identifier in use', packets: ['puback', 'pubrec', 'suback', 'unsuback'],
    meaning: 'The packet identifier is already in use by another in-flight exchange.',
    remedy: 'Fix the client\'s packet id allocation, or reset the session state by connecting with clean start.',
  },
  {
    code: 0x92, name: 'Packet Identifier not found', packets: ['pubrel', 'pubcomp'],
    meaning: 'The packet identifier is not known; client and server session state disagree.',
    remedy: 'Usually harmless after a reconnect; if it recurs, reconnect with clean start to reset the session.',
  },
  {
    code: 0x93, name: 'Receive Maximum exceeded', packets: ['disconnect'],
    meaning: 'More QoS 1/2 publications were in flight than the receiver\'s Receive Maximum allows.',
    remedy: 'Make the sender respect the Receive Maximum from CONNECT/CONNACK, or raise max_inflight_messages.',
  },
  {
    code: 0x94, name: 'Topic Alias invalid', packets: ['disconnect'],
    meaning: 'A PUBLISH used a topic alias of 0 or above the Topic Alias Maximum agreed for the connection.',
    remedy: 'Fix the client\'s topic alias handling, or disable topic aliases in the client.',
  },
  {
    code: 0x95, name: 'Packet too large', packets: ['connack', 'disconnect'],
    meaning: 'The packet is bigger than the receiver\'s maximum packet size.',
    remedy: 'Send smaller messages or raise max_packet_size / message_size_limit on the broker.',
  },
  {
    code: 0x96, name: 'Message rate too high', packets: ['disconnect'],
    meaning: 'The client sent messages faster than the server allows.',
    remedy: 'Publish less often or batch data into fewer messages; ask the operator about rate limits.',
  },
  {
    code: 0x97, name: 'Quota exceeded', packets: ['connack', 'puback', 'pubrec', 'suback', 'disconnect'],
    meaning: 'An implementation or administrative limit was exceeded.',
    remedy: 'Reduce usage (subscriptions, queued messages, connections) or raise the limit, e.g. max_queued_messages or memory_limit.',
  },
  {
    code: 0x98, name: 'Administrative action', packets: ['disconnect'],
    meaning: 'The connection was closed by an administrator.',
    remedy: 'Contact the broker administrator if the disconnection was unexpected.',
  },
  {
    code: 0x99, name: 'Payload format invalid', packets: ['connack', 'puback', 'pubrec', 'disconnect'],
    meaning: 'The payload does not match its Payload Format Indicator (e.g. flagged UTF-8 but is not).',
    remedy: 'Send valid UTF-8 when setting payloadFormatIndicator 1, or leave the indicator unset for binary data.',
  },
  {
    code: 0x9a, name: 'Retain not supported', packets: ['connack', 'disconnect'],
    meaning: 'The server does not support retained messages and the client sent one.',
    remedy: 'Publish with retain false, or enable retain_available on the broker.',
  },
  {
    code: 0x9b, name: 'QoS not supported', packets: ['connack', 'disconnect'],
    meaning: 'The client used a QoS above the Maximum QoS the server announced.',
    remedy: 'Publish (and set the Will) at or below the Maximum QoS from CONNACK, or raise max_qos on the broker.',
  },
  {
    code: 0x9c, name: 'Use another server', packets: ['connack', 'disconnect'],
    meaning: 'The client should temporarily use another server.',
    remedy: 'Connect to the server named in the Server Reference property, or another node of the cluster.',
  },
  {
    code: 0x9d, name: 'Server moved', packets: ['connack', 'disconnect'],
    meaning: 'The server has moved; the client should permanently use another server.',
    remedy: 'Update the client configuration to the server named in the Server Reference property.',
  },
  {
    code: 0x9e, name: 'Shared Subscriptions not supported', packets: ['suback', 'disconnect'],
    meaning: 'The server does not support shared subscriptions ($share/...).',
    remedy: 'Subscribe without the $share/<group>/ prefix, or use a broker with shared subscriptions enabled.',
  },
  {
    code: 0x9f, name: 'Connection rate exceeded', packets: ['connack', 'disconnect'],
    meaning: 'The connection was refused because clients are connecting too fast.',
    remedy: 'Slow down reconnects: use exponential backoff with jitter.',
  },
  {
    code: 0xa0, name: 'Maximum connect time', packets: ['disconnect'],
    meaning: 'The connection exceeded the maximum connection time the server allows.',
    remedy: 'Reconnect; expect the server to close long-lived connections periodically.',
  },
  {
    code: 0xa1, name: 'Subscription Identifiers not supported', packets: ['suback', 'disconnect'],
    meaning: 'The server does not support subscription identifiers.',
    remedy: 'Subscribe without the Subscription Identifier property.',
  },
  {
    code: 0xa2, name: 'Wildcard Subscriptions not supported', packets: ['suback', 'disconnect'],
    meaning: 'The server does not support topic filters with + or #.',
    remedy: 'Subscribe to each exact topic name instead of a wildcard filter.',
  },
]);

/** MQTT 3.1 / 3.1.1 CONNACK return codes 0-5. */
export const CONNECT_RETURN_CODES: readonly ReasonCodeInfo[] = freezeAll([
  {
    code: 0, name: 'Connection Accepted', packets: ['connack'],
    meaning: 'The connection was accepted.',
    remedy: 'Nothing to do.',
  },
  {
    code: 1, name: 'Connection Refused, unacceptable protocol version', packets: ['connack'],
    meaning: 'The server does not support the MQTT protocol level the client asked for.',
    remedy: 'Connect with MQTT 3.1.1 (protocolVersion 4) or 5.0, or upgrade the broker.',
  },
  {
    code: 2, name: 'Connection Refused, identifier rejected', packets: ['connack'],
    meaning: 'The client identifier is well formed but not allowed by the server.',
    remedy: 'Use a unique client id of 1-23 letters and digits; an empty id needs clean session and allow_zero_length_clientid.',
  },
  {
    code: 3, name: 'Connection Refused, Server unavailable', packets: ['connack'],
    meaning: 'The network connection was made but the MQTT service is unavailable.',
    remedy: 'Retry later with exponential backoff and jitter; check the broker\'s health and connection limits.',
  },
  {
    code: 4, name: 'Connection Refused, bad user name or password', packets: ['connack'],
    meaning: 'The user name or password is malformed or was not accepted.',
    remedy: 'Check the user name and password; with Mosquitto-style password files, recreate the entry with `moat passwd`.',
  },
  {
    code: 5, name: 'Connection Refused, not authorized', packets: ['connack'],
    meaning: 'The client is not authorized to connect.',
    remedy: 'Supply credentials the broker accepts, or set allow_anonymous true for anonymous clients on a trusted network.',
  },
]);

/** The 3.1.1 SUBACK failure return code; 0-2 mean the same as their 5.0 Granted QoS entries. */
export const SUBACK_FAILURE_V3: ReasonCodeInfo = Object.freeze({
  code: 0x80, name: 'Failure', packets: Object.freeze(['suback'] as PacketTypeName[]),
  meaning: 'The server refused the subscription (often not authorized, or an invalid filter).',
  remedy: 'Check the topic filter syntax and the ACL for this user; the broker log names the cause.',
});

// Index by code: most codes have one meaning, 0x00 has three; the first entry is the default.
const byCode = new Map<number, ReasonCodeInfo[]>();
for (const info of REASON_CODES) {
  const list = byCode.get(info.code);
  if (list === undefined) byCode.set(info.code, [info]);
  else list.push(info);
}

/**
 * Describe a reason code. Never throws: an unknown code yields an info object saying so, because
 * callers are usually formatting what a peer sent, and a peer can send anything.
 * With protocolVersion 3/4, CONNACK codes are the 3.1.1 return codes, and so is a code given without
 * a packet (0-5 are CONNACK return codes, 0x80 is the SUBACK failure: 3.1.1 has no others).
 */
export function describeReason(code: number, options: DescribeReasonOptions = {}): ReasonCodeInfo {
  const { packet, protocolVersion = 5 } = options;
  if (protocolVersion !== 5) {
    if (packet === 'connack' || (packet === undefined && code >= 0 && code <= 5)) {
      return CONNECT_RETURN_CODES[code] ?? unknown(code, options);
    }
    if (code === 0x80 && (packet === 'suback' || packet === undefined)) return SUBACK_FAILURE_V3;
    if (packet === 'suback' && code <= 2) return describeReason(code, { packet });
    return unknown(code, options);
  }
  const list = byCode.get(code);
  if (list === undefined) return unknown(code, options);
  if (packet !== undefined) {
    for (const info of list) if (info.packets.includes(packet)) return info;
  }
  // The code exists but not for this packet (a peer misbehaving): its meaning is still the best hint.
  return list[0] ?? unknown(code, options);
}

/** "0x86 Bad User Name or Password: The server did not accept the user name or password." */
export function formatReason(code: number, options?: DescribeReasonOptions): string {
  const info = describeReason(code, options);
  return `${hex(code)} ${info.name}: ${info.meaning}`;
}

/**
 * True when the code reports a failure: >= 0x80 in MQTT 5.0 (and for the 3.1.1 SUBACK failure).
 * A 3.1/3.1.1 CONNACK refuses with 1-5, so pass `{ packet: 'connack', protocolVersion: 4 }` for those.
 */
export function isError(code: number, options: DescribeReasonOptions = {}): boolean {
  if (options.protocolVersion !== undefined && options.protocolVersion !== 5 && options.packet === 'connack') {
    return code !== 0;
  }
  return code >= 0x80;
}

/**
 * The 3.1/3.1.1 CONNACK return code to send to an old client for a 5.0 CONNACK reason, so the
 * broker decides in 5.0 terms once. Follows Mosquitto 2 (src/handle_connect.c, which picks the v3
 * code at each call site) and, where Mosquitto has no case, EMQX's emqx_reason_codes:compat/2:
 *   0x84 -> 1  unsupported version   (Mosquitto: CONNACK_REFUSED_PROTOCOL_VERSION)
 *   0x85 -> 2  client id not valid   (Mosquitto: CONNACK_REFUSED_IDENTIFIER_REJECTED)
 *   0x86 -> 4  bad user name/password (Mosquitto: CONNACK_REFUSED_BAD_USERNAME_PASSWORD)
 *   0x87 -> 5  not authorized        (Mosquitto: CONNACK_REFUSED_NOT_AUTHORIZED)
 *   0x8A banned, 0x8C bad auth method -> 5 (EMQX: both are authorization refusals)
 *   0x95 packet too large -> 5       (Mosquitto refuses a too-large Will payload this way on v3)
 *   0x88, 0x89, 0x97, 0x9C, 0x9D, 0x9F and any other failure -> 3 server unavailable: 3 is the only
 *   3.1.1 code that tells a client "not you, try again later", which is what rate limits, busy
 *   servers and redirects mean (EMQX maps 0x89/0x97/0x9C/0x9D/0x9F to 3 as well).
 * Mosquitto sends no CONNACK at all to a 3.1.1 client for 0x81/0x82 (it just closes, as 3.1.1
 * section 4.8 asks for protocol violations); the broker should do the same and not call this.
 */
export function connackCodeFor(v5Code: number): number {
  switch (v5Code) {
    case ReasonCode.Success:
      return ConnectReturnCode.Accepted;
    case ReasonCode.UnsupportedProtocolVersion:
      return ConnectReturnCode.UnacceptableProtocolVersion;
    case ReasonCode.ClientIdentifierNotValid:
      return ConnectReturnCode.IdentifierRejected;
    case ReasonCode.BadUserNameOrPassword:
      return ConnectReturnCode.BadUserNameOrPassword;
    case ReasonCode.NotAuthorized:
    case ReasonCode.Banned:
    case ReasonCode.BadAuthenticationMethod:
    case ReasonCode.PacketTooLarge:
      return ConnectReturnCode.NotAuthorized;
    default:
      return ConnectReturnCode.ServerUnavailable;
  }
}

function unknown(code: number, options: DescribeReasonOptions): ReasonCodeInfo {
  const where = options.packet === undefined ? '' : ` in ${options.packet.toUpperCase()}`;
  const version = options.protocolVersion === undefined || options.protocolVersion === 5 ? '5.0' : '3.1.1';
  return Object.freeze({
    code,
    name: `Unknown reason code ${hex(code)}`,
    packets: Object.freeze([] as PacketTypeName[]),
    meaning: `unknown reason code ${hex(code)}${where}: MQTT ${version} does not define it.`,
    remedy: 'The peer sent a code this version of MQTT does not define; check it speaks the protocol version you expect.',
  });
}

function hex(code: number): string {
  return `0x${code.toString(16).toUpperCase().padStart(2, '0')}`;
}

function freezeAll(list: ReasonCodeInfo[]): readonly ReasonCodeInfo[] {
  for (const info of list) {
    Object.freeze(info.packets);
    Object.freeze(info);
  }
  return Object.freeze(list);
}
