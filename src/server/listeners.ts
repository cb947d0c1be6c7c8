// Every configured listener (tcp, tls, websockets, wss, unix socket) opened on one Broker with its
// ListenerPolicy, one "listening" log line each, "insecure_listener" for what resolveSecurity warns
// about, and "listen_failed" (then everything opened so far closed) when one cannot bind.
import type { AccessControl } from '../auth/access-control.js';
import type { CertificateIdentity } from '../auth/certificate-identity.js';
import type { Broker } from '../broker/broker.js';
import { emit } from '../broker/events.js';
import type { ListenerPolicy } from '../broker/options.js';
import type { ListenerSecurity } from '../config/security.js';
import type { BrokerConfig, ListenerConfig, ListenerTlsConfig } from '../config/types.js';
import type { ListenerOptions, Listening } from '../transport/listen.js';
import { listenTcp } from '../transport/tcp.js';
import { listenTls } from '../transport/tls.js';
import { listenWebSocket } from '../transport/ws.js';
import { ListenError, listenFailure } from './errors.js';

export type ListenerProtocolName = 'mqtt' | 'mqtts' | 'websockets' | 'wss';

/** One open listener. */
export interface ServerListener {
  /** The config block it was opened from. */
  readonly listener: ListenerConfig;
  readonly protocol: ListenerProtocolName;
  /** The bound address (or the Unix socket's path) and port (0 for a Unix socket). */
  readonly host: string;
  readonly port: number;
  readonly listening: Listening;
}

/** What the listener speaks, as the log lines name it. */
export function protocolName(listener: ListenerConfig): ListenerProtocolName {
  const tls = listener.tls !== undefined;
  return listener.protocol === 'websockets' ? (tls ? 'wss' : 'websockets') : tls ? 'mqtts' : 'mqtt';
}

/** Where use_identity_as_username / use_subject_as_username take the user name from on this listener. */
export function certificateIdentity(tls: ListenerTlsConfig | undefined): CertificateIdentity | undefined {
  if (tls?.useIdentityAsUsername === true) return tls.pskHint !== undefined ? 'psk-identity' : 'common-name';
  return tls?.useSubjectAsUsername === true ? 'subject' : undefined;
}

/** The listener's own settings, as the engine takes them on each of its connections. */
export function listenerPolicy(security: ListenerSecurity, accessControl: AccessControl | undefined): ListenerPolicy {
  const { listener } = security;
  return {
    allowAnonymous: security.anonymousAllowed,
    allowZeroLengthClientId: listener.allowZeroLengthClientId,
    autoIdPrefix: listener.autoIdPrefix,
    maxTopicAlias: listener.maxTopicAlias,
    maxQos: listener.maxQos,
    mountPoint: listener.mountPoint,
    accessControl,
    certificateIdentity: certificateIdentity(listener.tls),
    useUsernameAsClientId: listener.useUsernameAsClientid,
  };
}

/** Binds one listener; rejects with the transport's error. */
export function openListener(broker: Broker, config: BrokerConfig, security: ListenerSecurity, accessControl: AccessControl | undefined): Promise<Listening> {
  const { listener } = security;
  const tls = listener.tls;
  const options: ListenerOptions = {
    host: listener.host,
    port: listener.port,
    socketPath: listener.socketPath,
    socketDomain: listener.socketDomain,
    bindInterface: listener.bindInterface,
    noDelay: config.setTcpNodelay,
    maxConnections: listener.maxConnections,
    policy: listenerPolicy(security, accessControl),
  };
  // mqtts and wss: tls_handshake_timeout bounds the handshake; connect_timeout starts after it.
  const handshake = tls === undefined ? {} : { handshakeTimeoutMs: tls.handshakeTimeout * 1000 };
  if (listener.protocol === 'websockets') return listenWebSocket(broker, { ...options, tls, ...handshake, maxHeaderSize: config.websocketsHeadersSize });
  return tls === undefined ? listenTcp(broker, options) : listenTls(broker, { ...options, tls, ...handshake });
}

/**
 * Opens every listener of `security` (resolveSecurity's answer, one per config listener) in config
 * order. When one cannot bind, reports moat:listener:failed (logged as listen_failed), closes those
 * already open and rejects with a ListenError naming the listener and its file:line.
 */
export async function openListeners(
  broker: Broker,
  config: BrokerConfig,
  security: readonly ListenerSecurity[],
  accessControls: ReadonlyMap<ListenerConfig, AccessControl>,
): Promise<ServerListener[]> {
  const open: ServerListener[] = [];
  for (const entry of security) {
    const { listener, warnings } = entry;
    for (const warning of warnings) emit(broker, 'insecureListener', { host: listener.host, port: listener.port, warning });
    let listening: Listening;
    try {
      listening = await openListener(broker, config, entry, accessControls.get(listener));
    } catch (error) {
      emit(broker, 'listenerFailed', { host: listener.host, port: listener.port, path: listener.socketPath, err: (error as Error).message, reason: listenFailure(listener) });
      await Promise.all(open.map((l) => l.listening.close()));
      throw new ListenError(listener, error);
    }
    const protocol = protocolName(listener);
    open.push({ listener, protocol, host: listening.host, port: listening.port, listening });
    emit(broker, 'listenerStarted', { protocol, host: listening.host, port: listening.port, path: listener.socketPath });
  }
  return open;
}
