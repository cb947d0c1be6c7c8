// CONNECT: the checks run in protocol order, each ending the connection with the code the
// client's protocol version has for it; then the login (maybe asynchronous: a password check), then
// the session is attached and CONNACK sent.
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
import { checkWill } from '../will.js';
import { NEVER_EXPIRES } from '../session.js';


export function handleConnect(connection: Connection, packet: ConnectPacket): void {
  if (connection.state !== 'new') {
    throw new ProtocolError(ReasonCode.ProtocolError, 'second CONNECT on one connection [MQTT-3.1.0-2]', 'connect');
  }
  const broker = connection.broker;
  const options = broker.options;
  const version = packet.protocolVersion;
  connection.protocolVersion = version;
  const properties = packet.properties ?? {};
  const policy = connection.info.policy;
  // Binds every packet we send, the refusing CONNACK included [MQTT-3.1.2-24].
  if (version === 5 && properties.maximumPacketSize !== undefined) connection.clientMaxPacketSize = properties.maximumPacketSize;

  // Client identifier [MQTT-3.1.3-6..8]: 3.1 requires one; 3.1.1 only with clean session.
  let clientId = packet.clientId;
  let assigned = false;
  if (clientId === '') {
    if (version === 3 || (version === 4 && !packet.clean) || !(policy?.allowZeroLengthClientId ?? options.allowZeroLengthClientId)) {
      refuse(connection, ReasonCode.ClientIdentifierNotValid, 'an empty client id needs clean session (3.1.1) or MQTT 5');
      return;
    }
    clientId = (policy?.autoIdPrefix ?? options.autoIdPrefix) + randomUUID();
    assigned = true;
  }
  connection.clientId = clientId;
  // clientid_prefixes (deprecated in Mosquitto, which answers "not authorized" too); assigned ids included.
  const prefix = options.clientIdPrefix;
  if (prefix !== undefined && !clientId.startsWith(prefix)) {
    refuse(connection, ReasonCode.NotAuthorized, `client ids must start with "${prefix}" (clientid_prefixes)`);
    return;
  }

  // The will is published later under this topic: refuse now what no PUBLISH could carry [MQTT-3.1.3-11].
  const willProblem = packet.will === undefined ? undefined : checkWill(packet.will, options.maxTopicLevels);
  // message_size_limit binds the will's payload as it binds any PUBLISH's, as in Mosquitto.
  const willSize = packet.will?.payload.length ?? 0;
  if (options.messageSizeLimit > 0 && willSize > options.messageSizeLimit) {
    refuse(connection, ReasonCode.PacketTooLarge, `the will payload (${willSize} bytes) is over message_size_limit (${options.messageSizeLimit} bytes)`);
    return;
  }
  if (packet.will !== undefined && packet.will.qos > connection.maxQos) {
    // [MQTT-3.2.2-12]: a will above the Maximum QoS the server supports is refused with 0x9B.
    refuse(connection, ReasonCode.QoSNotSupported, `will QoS ${packet.will.qos} is above this listener's max_qos ${connection.maxQos}`);
    return;
  }
  if (willProblem !== undefined) {
    if (version === 5) refuse(connection, ReasonCode.TopicNameInvalid, willProblem); // "not malformed, but not accepted by this Server"
    else {
      // 3.1.1 has no return code for it: close without CONNACK, as Mosquitto does.
      emit(broker, 'connectRefused', { clientId, address: connection.remoteAddress, reasonCode: undefined, reason: willProblem });
      connection.close(undefined, willProblem);
    }
    return;
  }
  if (properties.authenticationMethod !== undefined) {
    refuse(connection, ReasonCode.BadAuthenticationMethod, `authentication method "${properties.authenticationMethod}" is not supported`);
    return;
  }
  // Log in: the password check may run off the event loop; packets arriving meanwhile wait, in order.
  const control = policy?.accessControl ?? options.accessControl;
  const identity = policy?.certificateIdentity;
  let username = packet.username;
  if (identity !== undefined) {
    const fromCertificate = usernameFromCertificate(connection.stream, identity);
    if ('problem' in fromCertificate) {
      // Mosquitto answers "bad user name or password" here too: the certificate is the credential.
      refuse(connection, ReasonCode.BadUserNameOrPassword, fromCertificate.problem);
      return;
    }
    username = fromCertificate.username;
  }
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
  if (!(login instanceof Promise)) {
    admit(connection, packet, login, control, assigned);
    return;
  }
  connection.state = 'admitting';
  connection.pauseInput();
  login
    .then((result) => {
      // The client may have gone (or timed out) while its password was checked.
      if (connection.state !== 'admitting') return;
      admit(connection, packet, result, control, assigned);
      // Still admitting: its session is being loaded, and that resumes the input when done.
      if (connection.state !== 'admitting') connection.resumeInput();
    })
    .catch((error: unknown) => {
      emit(broker, 'authError', { clientId, address: connection.remoteAddress, username: packet.username, err: error instanceof Error ? error.message : String(error), during: 'login' });
      connection.close(undefined, 'internal error');
    });
}

/** The login is decided: refuse, or check the will against the ACL and open the session. */
function admit(connection: Connection, packet: ConnectPacket, login: LoginResult, control: AccessControl | undefined, assigned: boolean): void {
  if (!login.accepted) {
    const mosquittoCode = login.reasonCode === ReasonCode.BadUserNameOrPassword && connection.broker.options.badPasswordAsNotAuthorized;
    refuse(connection, mosquittoCode ? ReasonCode.NotAuthorized : login.reasonCode, login.reason);
    return;
  }
  if (connection.info.policy?.useUsernameAsClientId === true) {
    // use_username_as_clientid, as in Mosquitto: the user name is the client id, so one client cannot
    // take over another's session by reusing its id; no user name, no client id.
    if (login.username === undefined || login.username === '') {
      refuse(connection, ReasonCode.NotAuthorized, 'this listener uses the user name as client id (use_username_as_clientid), and the client sent none');
      return;
    }
    connection.clientId = login.username;
  }
  const clientId = connection.clientId;
  connection.username = login.username;
  connection.loginHash = login.hash;
  const subject = { username: login.username, clientId };
  // A will is a publish made later on the client's behalf: it needs write access now, as in Mosquitto 2.
  if (packet.will !== undefined && control !== undefined && !control.allows(subject, 'write', connection.brokerTopic(packet.will.topic))) {
    refuse(connection, ReasonCode.NotAuthorized, `the ACL does not let this client publish its will to "${packet.will.topic}"`);
    return;
  }
  const broker = connection.broker;
  const loading = broker.loadSession(clientId, packet.clean, packet.protocolVersion);
  if (loading === undefined) {
    openSession(connection, packet, login, control, assigned);
    return;
  }
  connection.state = 'admitting';
  connection.pauseInput();
  loading.then(
    () => {
      if (connection.state !== 'admitting') return;
      openSession(connection, packet, login, control, assigned);
      connection.resumeInput();
    },
    (error: unknown) => {
      emit(broker, 'storeError', { clientId, operation: 'load session', err: error instanceof Error ? error.message : String(error) });
      refuse(connection, ReasonCode.ServerUnavailable, 'the broker could not load this session; try again');
    },
  );
}

/** Everything is decided and the session (if stored) loaded: CONNACK, and the session opens. */
function openSession(connection: Connection, packet: ConnectPacket, login: LoginResult & { accepted: true }, control: AccessControl | undefined, assigned: boolean): void {
  const clientId = connection.clientId;
  const subject = { username: login.username, clientId };
  const broker = connection.broker;
  const options = broker.options;
  const version = packet.protocolVersion;
  const v5 = version === 5;
  const properties = packet.properties ?? {};

  // Keep alive: v5 clients are told the server's value; 3.1.1 clients asking more are refused, as Mosquitto does.
  let keepalive = packet.keepalive;
  let serverKeepAlive: number | undefined;
  if (keepalive > options.maxKeepalive || (keepalive === 0 && options.maxKeepalive < 65535 && v5)) {
    if (!v5) {
      refuse(connection, ReasonCode.ClientIdentifierNotValid, `keep alive ${keepalive} s is above max_keepalive ${options.maxKeepalive} s`);
      return;
    }
    keepalive = options.maxKeepalive;
    serverKeepAlive = keepalive;
  }

  // Session expiry: 3.1.1 clean=false sessions never expire unless persistent_client_expiration says so.
  const requestedExpiry = v5 ? (properties.sessionExpiryInterval ?? 0) : packet.clean ? 0 : NEVER_EXPIRES;
  const expiry = broker.capSessionExpiry(requestedExpiry);
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
    if (assigned) connackProperties.assignedClientIdentifier = clientId;
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
  const connackSize = encode(connack, version).length;
  if (connackSize > connection.clientMaxPacketSize) {
    const reason = `the CONNACK (${connackSize} bytes) is larger than the Maximum Packet Size the client accepts (${connection.clientMaxPacketSize} bytes) [MQTT-3.1.2-24]`;
    emit(broker, 'connectRefused', { clientId, address: connection.remoteAddress, reasonCode: undefined, reason });
    connection.close(undefined, reason);
    return;
  }

  const { session, sessionPresent } = broker.attachSession(connection, clientId, packet.clean, expiry);
  const will = packet.will;
  session.will = will === undefined || connection.mountPoint === '' ? will : { ...will, topic: connection.brokerTopic(will.topic) };
  session.access = control === undefined ? undefined : { control, subject };
  broker.saveSession(session);
  connack.sessionPresent = sessionPresent;
  connection.writePacket(connack);
  connection.state = 'connected';
  connection.startKeepalive(keepalive);
  emit(broker, 'clientConnected', { clientId, username: login.username, address: connection.remoteAddress, protocolVersion: version, clean: packet.clean, keepalive, sessionPresent });
  session.resend();
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
