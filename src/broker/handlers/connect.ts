// CONNECT as a visible list of steps (CONNECT_STEPS, the way aedes shows its connectActions): the
// checks in protocol order, each ending the connection with the code the client's protocol version
// has for it; the login (maybe asynchronous: a password check); loading a stored session (maybe
// asynchronous: a durable store); then the session opens and CONNACK is sent.
import { randomUUID } from 'node:crypto';
import { ProtocolError } from '../../codec/errors.js';
import { connackCodeFor, ReasonCode } from '../../codec/reason-codes.js';
import { encode } from '../../codec/encode.js';
import type { ConnackPacket, ConnectPacket, Properties } from '../../codec/types.js';
import type { AccessControl } from '../../auth/access-control.js';
import type { LoginResult } from '../../auth/authenticator.js';
import { usernameFromCertificate } from '../../auth/certificate-identity.js';
import type { Connection } from '../connection.js';
import { emit } from '../events.js';
import type { ConnectionLimit } from '../refusals.js';
import { checkWill } from '../will.js';
import { checkTopicLength } from '../../topic/validate.js';
import { NEVER_EXPIRES } from '../session.js';


/** What the steps of one CONNECT learn as they go. */
interface Admission {
  readonly connection: Connection;
  readonly packet: ConnectPacket;
  /** The server made the client id up (v5 Assigned Client Identifier). */
  assigned: boolean;
  control: AccessControl | undefined;
  login: AcceptedLogin | undefined;
  keepalive: number;
  expiry: number;
  connack: ConnackPacket | undefined;
}

type AcceptedLogin = LoginResult & { readonly accepted: true };

/** A step goes on to the next one, or has ended the CONNECT (refused, or the session is open); async ones resolve to which. */
const NEXT = 'next';
const DONE = 'done';
type Outcome = typeof NEXT | typeof DONE;
type Step = (admission: Admission) => Outcome | Promise<Outcome>;

/**
 * CONNECT, step by step, in the order they run. A step that refuses answers in the client's
 * protocol version and ends the connection; an asynchronous one (a password check, a session
 * loaded from a durable store) leaves the connection `admitting`, its input held, until it is done.
 */
const CONNECT_STEPS: readonly Step[] = [
  checkLimits, // connection counts (0x97 Quota exceeded) and rates (0x9F): 3 Server unavailable for 3.1.1, in words
  identifyClient, // client id rules, an assigned id, clientid_prefixes
  checkWillAndAuthentication, // will topic, size and QoS; enhanced authentication (not supported)
  logIn, // certificate identity, password or anonymous: maybe off the event loop
  applyLogin, // use_username_as_clientid, the will's write access
  negotiate, // keep alive, session expiry, windows, aliases, the CONNACK and whether it fits
  loadStoredSession, // from a durable store, or deleted on Clean Start
  openSession, // takeover, the session's will and access, CONNACK, resend
];

export function handleConnect(connection: Connection, packet: ConnectPacket): void {
  if (connection.state !== 'new') {
    throw new ProtocolError(ReasonCode.ProtocolError, 'second CONNECT on one connection [MQTT-3.1.0-2]', 'connect');
  }
  connection.broker.counters.connectsReceived++;
  connection.protocolVersion = packet.protocolVersion;
  // Binds every packet we send, the refusing CONNACK included [MQTT-3.1.2-24].
  const maximumPacketSize = packet.properties?.maximumPacketSize;
  if (packet.protocolVersion === 5 && maximumPacketSize !== undefined) connection.clientMaxPacketSize = maximumPacketSize;
  const admission: Admission = { connection, packet, assigned: false, control: undefined, login: undefined, keepalive: packet.keepalive, expiry: 0, connack: undefined };
  runSteps(admission, 0);
}

function runSteps(admission: Admission, from: number): void {
  const { connection } = admission;
  for (let i = from; i < CONNECT_STEPS.length; i++) {
    const outcome = (CONNECT_STEPS[i] as Step)(admission);
    if (outcome === DONE) return;
    if (outcome === NEXT) continue;
    if (connection.state === 'new') {
      connection.state = 'admitting';
      connection.pauseInput();
    }
    outcome
      .then((next) => {
        // The client may have gone (or timed out) while it waited.
        if (connection.state !== 'admitting' || next === DONE) return;
        runSteps(admission, i + 1);
        connection.resumeInput(); // only once connected: a later step may still be waiting
      })
      .catch((error: unknown) => {
        // A bug of ours in a later step must cost only this connection, never the broker.
        emit(connection.broker, 'handlerError', { clientId: connection.clientId, packet: 'connect', err: error });
        connection.close(undefined, 'internal error');
      });
    return;
  }
}

/** A socket past a connection limit is told so at CONNECT (limits.ts), then closed. */
function checkLimits(admission: Admission): Outcome {
  const { connection, packet } = admission;
  const limit = connection.slot;
  if (limit === 'admit' || limit === 'drop') return NEXT;
  const broker = connection.broker;
  const value = broker.admission.value(limit, connection.info.slots);
  connection.clientId = packet.clientId;
  broker.refuse({ limit, value, listener: connection.info.listener, address: connection.remoteAddress, clientId: packet.clientId || undefined, answered: true });
  refuse(connection, LIMIT_CODES[limit], limitSentence(limit, value));
  return DONE;
}

const LIMIT_CODES: Readonly<Record<ConnectionLimit, number>> = {
  max_connections: ReasonCode.QuotaExceeded,
  global_max_connections: ReasonCode.QuotaExceeded,
  max_connection_rate: ReasonCode.ConnectionRateExceeded,
  max_connection_rate_per_address: ReasonCode.ConnectionRateExceeded,
};

/** The reason string a refused client reads: which limit, its value, and what to do. */
function limitSentence(limit: ConnectionLimit, value: number): string {
  switch (limit) {
    case 'max_connections':
      return `the broker is at its connection limit (max_connections ${value} on this listener); try again later`;
    case 'global_max_connections':
      return `the broker is at its connection limit (global_max_connections ${value}); try again later`;
    case 'max_connection_rate':
      return `too many new connections to the broker (max_connection_rate ${value} per second); try again in a few seconds`;
    case 'max_connection_rate_per_address':
      return `too many new connections from this address (max_connection_rate_per_address ${value} per second); try again in a few seconds`;
  }
}

/** Client identifier [MQTT-3.1.3-6..8]: 3.1 requires one; 3.1.1 only with clean session. */
function identifyClient(admission: Admission): Outcome {
  const { connection, packet } = admission;
  const options = connection.broker.options;
  const policy = connection.info.policy;
  const version = packet.protocolVersion;
  let clientId = packet.clientId;
  if (clientId === '') {
    if (version === 3 || (version === 4 && !packet.clean) || !(policy?.allowZeroLengthClientId ?? options.allowZeroLengthClientId)) {
      refuse(connection, ReasonCode.ClientIdentifierNotValid, 'an empty client id needs clean session (3.1.1) or MQTT 5');
      return DONE;
    }
    clientId = (policy?.autoIdPrefix ?? options.autoIdPrefix) + randomUUID();
    admission.assigned = true;
  }
  connection.clientId = clientId;
  // clientid_prefixes (deprecated in Mosquitto, which answers "not authorized" too); assigned ids included.
  const prefix = options.clientIdPrefix;
  if (prefix !== undefined && !clientId.startsWith(prefix)) {
    refuse(connection, ReasonCode.NotAuthorized, `client ids must start with "${prefix}" (clientid_prefixes)`);
    return DONE;
  }
  return NEXT;
}

function checkWillAndAuthentication(admission: Admission): Outcome {
  const { connection, packet } = admission;
  const options = connection.broker.options;
  const will = packet.will;
  if (will !== undefined) {
    // The will is published later under this topic: refuse now what no PUBLISH could carry [MQTT-3.1.3-11].
    const willProblem = checkWill(will, options.maxTopicLevels);
    // message_size_limit binds the will's payload as it binds any PUBLISH's, as in Mosquitto.
    const willSize = will.payload.length;
    if (options.messageSizeLimit > 0 && willSize > options.messageSizeLimit) {
      refuse(connection, ReasonCode.PacketTooLarge, `the will payload (${willSize} bytes) is over message_size_limit (${options.messageSizeLimit} bytes)`);
      return DONE;
    }
    if (will.qos > connection.maxQos) {
      // [MQTT-3.2.2-12]: a will above the Maximum QoS the server supports is refused with 0x9B.
      refuse(connection, ReasonCode.QoSNotSupported, `will QoS ${will.qos} is above this listener's max_qos ${connection.maxQos}`);
      return DONE;
    }
    const willTooLong = options.maxTopicLength < 65535 ? checkTopicLength(will.topic, options.maxTopicLength, 'will topic') : undefined;
    if (willTooLong !== undefined) {
      // max_topic_length binds the will's topic as it binds a PUBLISH's: 0x90 (v5), closed (3.1.1).
      const v5 = packet.protocolVersion === 5;
      connection.broker.refuse({ limit: 'max_topic_length', value: options.maxTopicLength, listener: connection.info.listener, address: connection.remoteAddress, clientId: connection.clientId, answered: v5 });
      if (v5) refuse(connection, ReasonCode.TopicNameInvalid, willTooLong);
      else connection.close(undefined, willTooLong);
      return DONE;
    }
    if (willProblem !== undefined) {
      if (packet.protocolVersion === 5) refuse(connection, ReasonCode.TopicNameInvalid, willProblem); // "not malformed, but not accepted by this Server"
      else {
        // 3.1.1 has no return code for it: close without CONNACK, as Mosquitto does.
        emit(connection.broker, 'connectRefused', { clientId: connection.clientId, address: connection.remoteAddress, reasonCode: undefined, reason: willProblem });
        connection.close(undefined, willProblem);
      }
      return DONE;
    }
  }
  const method = packet.properties?.authenticationMethod;
  if (method !== undefined) {
    refuse(connection, ReasonCode.BadAuthenticationMethod, `authentication method "${method}" is not supported`);
    return DONE;
  }
  return NEXT;
}

/** The password check may run off the event loop; packets arriving meanwhile wait, in order. */
function logIn(admission: Admission): Outcome | Promise<Outcome> {
  const { connection, packet } = admission;
  const broker = connection.broker;
  const options = broker.options;
  const policy = connection.info.policy;
  const control = policy?.accessControl ?? options.accessControl;
  admission.control = control;
  const identity = policy?.certificateIdentity;
  let username = packet.username;
  if (identity !== undefined) {
    const fromCertificate = usernameFromCertificate(connection.stream, identity);
    if ('problem' in fromCertificate) {
      // Mosquitto answers "bad user name or password" here too: the certificate is the credential.
      refuse(connection, ReasonCode.BadUserNameOrPassword, fromCertificate.problem);
      return DONE;
    }
    username = fromCertificate.username;
  }
  const clientId = connection.clientId;
  const login = broker.authenticator.login(
    { allowAnonymous: policy?.allowAnonymous ?? options.allowAnonymous, control },
    {
      clientId,
      username,
      password: packet.password,
      address: connection.remoteAddress,
      certified: identity !== undefined,
      // A client that goes away while its login waits for a password check is dropped from the queue unhashed.
      onGone: (cancel) => connection.stream.once('close', cancel),
    },
  );
  if (!(login instanceof Promise)) return decideLogin(admission, login);
  return login.then(
    (result) => (connection.state === 'admitting' ? decideLogin(admission, result) : DONE),
    (error: unknown) => {
      emit(broker, 'authError', { clientId, address: connection.remoteAddress, username: packet.username, err: error instanceof Error ? error.message : String(error), during: 'login' });
      connection.close(undefined, 'internal error');
      return DONE;
    },
  );
}

function decideLogin(admission: Admission, login: LoginResult): Outcome {
  const { connection } = admission;
  if (!login.accepted) {
    const mosquittoCode = login.reasonCode === ReasonCode.BadUserNameOrPassword && connection.broker.options.badPasswordAsNotAuthorized;
    refuse(connection, mosquittoCode ? ReasonCode.NotAuthorized : login.reasonCode, login.reason);
    return DONE;
  }
  admission.login = login;
  return NEXT;
}

function applyLogin(admission: Admission): Outcome {
  const { connection, packet, control } = admission;
  const login = admission.login as AcceptedLogin;
  if (connection.info.policy?.useUsernameAsClientId === true) {
    // use_username_as_clientid, as in Mosquitto: the user name is the client id, so one client cannot
    // take over another's session by reusing its id; no user name, no client id.
    if (login.username === undefined || login.username === '') {
      refuse(connection, ReasonCode.NotAuthorized, 'this listener uses the user name as client id (use_username_as_clientid), and the client sent none');
      return DONE;
    }
    connection.clientId = login.username;
  }
  connection.username = login.username;
  connection.loginHash = login.hash;
  // A will is a publish made later on the client's behalf: it needs write access now, as in Mosquitto 2.
  const subject = { username: login.username, clientId: connection.clientId };
  if (packet.will !== undefined && control !== undefined && !control.allows(subject, 'write', connection.brokerTopic(packet.will.topic))) {
    refuse(connection, ReasonCode.NotAuthorized, `the ACL does not let this client publish its will to "${packet.will.topic}"`);
    return DONE;
  }
  return NEXT;
}

/** Keep alive, session expiry, the send window and aliases; the CONNACK, refused here if it cannot reach the client. */
function negotiate(admission: Admission): Outcome {
  const { connection, packet } = admission;
  const broker = connection.broker;
  const options = broker.options;
  const v5 = packet.protocolVersion === 5;
  const properties = packet.properties ?? {};

  // Keep alive: v5 clients are told the server's value; 3.1.1 clients asking more are refused, as Mosquitto does.
  let keepalive = packet.keepalive;
  let serverKeepAlive: number | undefined;
  if (keepalive > options.maxKeepalive || (keepalive === 0 && options.maxKeepalive < 65535 && v5)) {
    if (!v5) {
      refuse(connection, ReasonCode.ClientIdentifierNotValid, `keep alive ${keepalive} s is above max_keepalive ${options.maxKeepalive} s`);
      return DONE;
    }
    keepalive = options.maxKeepalive;
    serverKeepAlive = keepalive;
  }
  admission.keepalive = keepalive;

  // Session expiry: 3.1.1 clean=false sessions never expire unless persistent_client_expiration says so.
  const requestedExpiry = v5 ? (properties.sessionExpiryInterval ?? 0) : packet.clean ? 0 : NEVER_EXPIRES;
  const expiry = broker.capSessionExpiry(requestedExpiry);
  admission.expiry = expiry;
  connection.connectSessionExpiry = requestedExpiry;

  if (v5) {
    // The client says how many it can take [MQTT-3.3.4-9]; max_inflight_messages is the 3.1.1 window and
    // the Receive Maximum we announce, as in Mosquitto 2.
    connection.sendWindow = properties.receiveMaximum ?? 65535;
    connection.clientTopicAliasMaximum = properties.topicAliasMaximum ?? 0;
    if (connection.clientTopicAliasMaximum > 0) connection.outboundAliases = new Map();
  } else {
    connection.sendWindow = options.maxInflightMessages;
  }

  const connackProperties: Properties = {};
  if (v5) {
    if (admission.assigned) connackProperties.assignedClientIdentifier = connection.clientId;
    if (serverKeepAlive !== undefined) connackProperties.serverKeepAlive = serverKeepAlive;
    if (expiry !== requestedExpiry) connackProperties.sessionExpiryInterval = expiry;
    if (options.maxInflightMessages < 65535) connackProperties.receiveMaximum = options.maxInflightMessages;
    if (connection.maxTopicAlias > 0) connackProperties.topicAliasMaximum = connection.maxTopicAlias;
    if (options.maxPacketSize < 268_435_460) connackProperties.maximumPacketSize = options.maxPacketSize;
    if (!options.retainAvailable) connackProperties.retainAvailable = 0;
    if (connection.maxQos < 2) connackProperties.maximumQoS = connection.maxQos;
  }
  const connack: ConnackPacket = { type: 'connack', sessionPresent: false, reasonCode: ReasonCode.Success };
  if (Object.keys(connackProperties).length > 0) connack.properties = connackProperties;
  // Checked before the session is touched: a client that cannot take its CONNACK takes over nothing
  // and leaves no will behind. Nothing optional is in this CONNACK, so nothing can be shed.
  const connackSize = encode(connack, packet.protocolVersion).length;
  if (connackSize > connection.clientMaxPacketSize) {
    const reason = `the CONNACK (${connackSize} bytes) is larger than the Maximum Packet Size the client accepts (${connection.clientMaxPacketSize} bytes) [MQTT-3.1.2-24]`;
    emit(broker, 'connectRefused', { clientId: connection.clientId, address: connection.remoteAddress, reasonCode: undefined, reason });
    connection.close(undefined, reason);
    return DONE;
  }
  admission.connack = connack;
  return NEXT;
}

/** A session a durable store holds for this client id is loaded before it opens (or deleted on Clean Start). */
function loadStoredSession(admission: Admission): Outcome | Promise<Outcome> {
  const { connection, packet } = admission;
  const broker = connection.broker;
  const loading = broker.loadSession(connection.clientId, packet.clean, packet.protocolVersion);
  if (loading === undefined) return NEXT;
  return loading.then(
    () => NEXT,
    (error: unknown) => {
      emit(broker, 'storeError', { clientId: connection.clientId, operation: 'load session', err: error instanceof Error ? error.message : String(error) });
      refuse(connection, ReasonCode.ServerUnavailable, 'the broker could not load this session; try again');
      return DONE;
    },
  );
}

/** Takes the session over or resumes or creates it, gives it the will and access, sends CONNACK and what waited. */
function openSession(admission: Admission): Outcome {
  const { connection, packet, control } = admission;
  const login = admission.login as AcceptedLogin;
  const connack = admission.connack as ConnackPacket;
  const broker = connection.broker;
  const clientId = connection.clientId;
  const will = packet.will;
  const { session, sessionPresent } = broker.openSession(connection, {
    clientId,
    cleanStart: packet.clean,
    expiryInterval: admission.expiry,
    will: will === undefined || connection.mountPoint === '' ? will : { ...will, topic: connection.brokerTopic(will.topic) },
    access: control === undefined ? undefined : { control, subject: { username: login.username, clientId } },
  });
  connack.sessionPresent = sessionPresent;
  connection.writePacket(connack);
  connection.state = 'connected';
  connection.startKeepalive(admission.keepalive);
  emit(broker, 'clientConnected', { clientId, username: login.username, address: connection.remoteAddress, protocolVersion: packet.protocolVersion, clean: packet.clean, keepalive: admission.keepalive, sessionPresent });
  session.resend();
  return DONE;
}

/** CONNACK with a refusal, in the client's protocol version, then close [MQTT-3.2.2-5]. */
function refuse(connection: Connection, v5Code: number, reason: string): void {
  const v5 = connection.protocolVersion === 5;
  emit(connection.broker, 'connectRefused', { clientId: connection.clientId || undefined, address: connection.remoteAddress, reasonCode: v5Code, reason });
  if (v5) {
    connection.writePacket({ type: 'connack', sessionPresent: false, reasonCode: v5Code, properties: { reasonString: reason } });
  } else {
    connection.writePacket({ type: 'connack', sessionPresent: false, reasonCode: connackCodeFor(v5Code) });
  }
  connection.close(undefined, reason);
}
