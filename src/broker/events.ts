// Broker events on node:diagnostics_channel: one frozen table of channel names, one payload type
// per channel. Every payload carries the broker it happened in (many can run in one process).
// Subscribers (the log in event-log.ts, $SYS, metrics, the dashboard) attach with
// `diagnostics_channel.subscribe(BROKER_EVENTS.clientConnected, fn)`; publishing is guarded by
// hasSubscribers, so an event nobody listens to costs one property read. Values are raw; the log
// clips what clients chose. Per-message counts are not events: they are counters in broker stats.
import { channel, type Channel } from 'node:diagnostics_channel';
import type { AuthEventFields, AuthEventKind, AuthReport } from '../auth/auth-events.js';
import type { Broker } from './broker.js';
import type { DropReason } from './drops.js';
import type { OverloadCause } from './overload.js';
import type { RefusalReason } from './refusals.js';

export const BROKER_EVENTS = Object.freeze({
  clientConnected: 'moat:client:connected',
  clientDisconnected: 'moat:client:disconnected',
  connectRefused: 'moat:connect:refused',
  connectTimeout: 'moat:connect:timeout',
  keepaliveTimeout: 'moat:keepalive:timeout',
  sessionTakeover: 'moat:session:takeover',
  sessionExpired: 'moat:session:expired',
  willPublished: 'moat:will:published',
  willCancelled: 'moat:will:cancelled',
  loginRevoked: 'moat:login:revoked',
  authFailed: 'moat:auth:failed',
  authBanned: 'moat:auth:banned',
  authBusy: 'moat:auth:busy',
  authError: 'moat:auth:error',
  hashWorkerFailed: 'moat:auth:hash-worker-failed',
  publishRefused: 'moat:publish:refused',
  publishDenied: 'moat:publish:denied',
  publishDropped: 'moat:publish:dropped',
  subscribed: 'moat:subscribe:granted',
  subscribeRefused: 'moat:subscribe:refused',
  subscribeDenied: 'moat:subscribe:denied',
  protocolError: 'moat:protocol:error',
  packetTooLargeForClient: 'moat:packet:too-large-for-client',
  handlerError: 'moat:handler:error',
  socketError: 'moat:socket:error',
  listenerError: 'moat:listener:error',
  websocketRefused: 'moat:websocket:refused',
  websocketError: 'moat:websocket:error',
  tlsClientRefused: 'moat:tls:client-refused',
  tlsHandshakeFailed: 'moat:tls:handshake-failed',
  tlsHandshakeCompleted: 'moat:tls:handshake-completed',
  pskFileWarning: 'moat:tls:psk-file-warning',
  storeError: 'moat:store:error',
  limitRefused: 'moat:limit:refused',
  limitSummary: 'moat:limit:summary',
  overloadHeld: 'moat:overload:held',
  overloadReleased: 'moat:overload:released',
  listenerStarted: 'moat:listener:started',
  listenerFailed: 'moat:listener:failed',
  insecureListener: 'moat:listener:insecure',
  reloadSkipped: 'moat:reload:skipped',
  tlsReloaded: 'moat:tls:reloaded',
  tlsReloadFailed: 'moat:tls:reload-failed',
  authReloaded: 'moat:auth:reloaded',
  authReloadFailed: 'moat:auth:reload-failed',
  passwordFileWarning: 'moat:auth:password-file-warning',
  adminDisconnect: 'moat:admin:disconnect',
  adminAuthFailed: 'moat:admin:auth-failed',
  adminTokenReloaded: 'moat:admin:token-reloaded',
  adminTokenReloadFailed: 'moat:admin:token-reload-failed',
} as const);

export type BrokerEvent = keyof typeof BROKER_EVENTS;

type Text = string | undefined;

/** Where a TLS peer came from (the socket may already be gone when a handshake fails). */
export interface TlsPeer {
  readonly address: Text;
  readonly remotePort: number | undefined;
  readonly listenerPort: number | undefined;
}

/** The fields of each event, besides `broker`. */
export interface BrokerEventFields {
  clientConnected: { clientId: string; username: Text; address: Text; protocolVersion: number; clean: boolean; keepalive: number; sessionPresent: boolean };
  clientDisconnected: { clientId: string; graceful: boolean };
  /** `reasonCode` is what the CONNACK said; undefined when the connection was closed without one. */
  connectRefused: { clientId: Text; address: Text; reasonCode: number | undefined; reason: string };
  connectTimeout: { address: Text };
  keepaliveTimeout: { clientId: string; keepaliveMs: number };
  sessionTakeover: { clientId: string; address: Text };
  sessionExpired: { clientId: string };
  willPublished: { clientId: string; topic: string };
  willCancelled: { clientId: string };
  loginRevoked: { clientId: string; username: Text; address: Text; reason: string };
  authFailed: AuthEventFields['failed'];
  authBanned: AuthEventFields['banned'];
  authBusy: AuthEventFields['busy'];
  /** `during`: 'password' inside the check, 'login' around it (the broker's own step failed). */
  authError: AuthEventFields['error'] & { during: 'password' | 'login' };
  hashWorkerFailed: AuthEventFields['hashWorkerFailed'];
  publishRefused: { clientId: string; topic: string; reasonCode: number; reason: string };
  publishDenied: { clientId: string; username: Text; topic: string };
  /**
   * Messages dropped for a client, rate-limited: the first drop (`reason`, count 1) and then at
   * most one summary per interval (`byReason`, `seconds`). Every drop is counted in broker.drops.
   */
  publishDropped:
    | { clientId: string; reason: DropReason; count: 1; detail: string }
    | { clientId: string; count: number; byReason: Partial<Record<DropReason, number>>; seconds: number; top: DropReason };
  subscribed: { clientId: string; filters: readonly string[] };
  subscribeRefused: { clientId: string; filter: string; reasonCode: number; reason: string };
  subscribeDenied: { clientId: string; username: Text; filter: string };
  protocolError: { clientId: Text; address: Text; reasonCode: number | undefined; packet: string | undefined; detail: string };
  packetTooLargeForClient: { clientId: Text; packet: string; maximumPacketSize: number };
  handlerError: { clientId: string; packet: string; err: unknown };
  socketError: { clientId: Text; address: Text; err: string };
  listenerError: { err: string };
  websocketRefused: { listener: string; address: Text; subprotocol: Text };
  websocketError: { listener: string; address: Text; err: string };
  tlsClientRefused: TlsPeer & { code: string; reason: string; pskIdentity?: string };
  /** `reason` is 'timeout' for tls_handshake_timeout, else Node's error message. */
  tlsHandshakeFailed: TlsPeer & { reason: string };
  /** A TLS handshake finished: ms from the TCP accept, the TLS version, whether a session was resumed. */
  tlsHandshakeCompleted: TlsPeer & { durationMs: number; protocol: Text; resumed: boolean };
  pskFileWarning: { file: string; warning: string };
  /** The store failed an operation (the client it was for was refused, 0x88 / 3). */
  storeError: { clientId: string; operation: string; err: string };
  /**
   * A client refused by a configured limit (`limit`, its configured `value`), every time (not
   * rate-limited; counted in broker.stats().refusedByReason). `answered` when the client was told
   * (CONNACK 0x97 / 0x9F / 3, PUBACK/PUBREC 0x97, SUBACK 0x97 / 0x80 or 0x8F, DISCONNECT 0x90), false
   * when the socket was closed at once (too many refusals waiting) or a 3.1.1 client had no code for
   * it. `listener` is the listener it came through when known. `logged`: this one is the first of
   * its reason after a quiet spell, so the log writes it; the rest are summed up in limitSummary.
   */
  limitRefused: { limit: RefusalReason; value: number; listener: Text; address: Text; clientId: Text; answered: boolean; logged: boolean };
  /** Refusals not logged one by one since the last line, by reason; at most one per interval (drop_log_interval). */
  limitSummary: { count: number; byReason: Partial<Record<RefusalReason, number>>; seconds: number };
  /**
   * Overload protection stopped reading a publisher (`bytes`: what it sent in the last 100 ms) because
   * memory neared memory_limit or the event loop lagged (`memory` bytes, `lagMs` at the decision).
   */
  overloadHeld: { clientId: Text; address: Text; cause: OverloadCause; bytes: number; memory: number; lagMs: number };
  /** The broker recovered: a held publisher is read again after `heldMs`. */
  overloadReleased: { clientId: Text; address: Text; heldMs: number };
  /** A listener of the server is open; `path` for a Unix socket. */
  listenerStarted: { protocol: string; host: string; port: number; path: Text };
  /** A listener could not be opened; `reason` names it and its file:line. The server does not start. */
  listenerFailed: { host: Text; port: number; path: Text; err: string; reason: string };
  /** The server starts a listener its settings make insecure (resolveSecurity's warning sentence). */
  insecureListener: { host: Text; port: number; warning: string };
  /** SIGHUP (or Server.reload) found nothing to re-read. */
  reloadSkipped: { signal: string };
  tlsReloaded: { protocol: string; host: string; port: number; certfile: Text; keyfile: Text; cafile: Text; crlfile: Text; pskFile: Text };
  /** A TLS file was unusable: the listener keeps its old certificates. */
  tlsReloadFailed: { protocol: string; host: string; port: number; file: Text; err: string };
  /** Password/ACL files re-read: `revoked` logins disconnected, `dropped` queued messages no longer readable. */
  authReloaded: { passwordFile: Text; aclFile: Text; users: number | undefined; revoked: number; dropped: number };
  /** A password/ACL file was unusable: the rules in force stay. */
  authReloadFailed: { passwordFile: Text; aclFile: Text; err: string };
  /** A password file line was skipped or overridden (file:line in the warning), at start and on every reload. */
  passwordFileWarning: { file: Text; warning: string };
  /** The admin API disconnected a client (v5: DISCONNECT 0x98); `by` is the address the request came from. */
  adminDisconnect: { clientId: string; username: Text; address: Text; by: Text };
  /** An admin API request without the right bearer token (`reason`: 'missing' or 'wrong') was answered 401. */
  adminAuthFailed: { address: Text; method: string; path: string; reason: 'missing' | 'wrong' };
  /** SIGHUP re-read admin_token_file: requests from now on need its token. */
  adminTokenReloaded: { file: string };
  /** admin_token_file was unusable on SIGHUP (`err` names file:line and the fix); the old token stays. */
  adminTokenReloadFailed: { file: string; err: string };
}

export type BrokerEventPayload<E extends BrokerEvent> = BrokerEventFields[E] & { readonly broker: Broker };

const CHANNELS = Object.fromEntries(Object.entries(BROKER_EVENTS).map(([key, name]) => [key, channel(name)])) as Readonly<Record<BrokerEvent, Channel>>;

/** The channel of `event`, for subscribers that want hasSubscribers or bindStore. */
export function eventChannel(event: BrokerEvent): Channel {
  return CHANNELS[event];
}

/** Publishes `event` for `broker`, if anyone listens. */
export function emit<E extends BrokerEvent>(broker: Broker, event: E, fields: BrokerEventFields[E]): void {
  const target = CHANNELS[event];
  if (target.hasSubscribers) target.publish({ broker, ...fields });
}

const AUTH_EVENTS: Readonly<Record<Exclude<AuthEventKind, 'error'>, BrokerEvent>> = {
  failed: 'authFailed',
  banned: 'authBanned',
  busy: 'authBusy',
  hashWorkerFailed: 'hashWorkerFailed',
};

/** The broker event an auth/ report becomes. */
export function authEventOf<K extends AuthEventKind>(kind: K, fields: AuthEventFields[K]): { [E in BrokerEvent]: { event: E; fields: BrokerEventFields[E] } }[BrokerEvent] {
  if (kind === 'error') return { event: 'authError', fields: { ...(fields as AuthEventFields['error']), during: 'password' } };
  return { event: AUTH_EVENTS[kind as Exclude<AuthEventKind, 'error'>], fields } as never;
}

/** The report function the broker hands its Authenticator: auth/ findings become broker events. */
export function authReporter(broker: Broker): AuthReport {
  return (kind, fields) => {
    const { event, fields: payload } = authEventOf(kind, fields);
    emit(broker, event, payload as never);
  };
}
