// The broker's structured log is a subscriber of its events (events.ts): one subscription per
// channel for the whole process, each record written to the logger of the broker in the payload.
// The `event` names, levels and messages are the log's public format (operators grep them), so
// they live here, in one table, next to nothing else. Client-chosen strings are clipped here.
import { subscribe } from 'node:diagnostics_channel';
import { DROP_REASONS } from './drops.js';
import { REFUSAL_REASONS } from './refusals.js';
import { BROKER_EVENTS, type BrokerEvent, type BrokerEventPayload } from './events.js';
import { clip, clipList, type Logger } from './logger.js';

type Level = 'debug' | 'info' | 'warn' | 'error';

interface LogLine<E extends BrokerEvent> {
  /** The record's `event` field. */
  readonly event: string;
  readonly level: Level | ((payload: BrokerEventPayload<E>) => Level);
  readonly message: string | ((payload: BrokerEventPayload<E>) => string);
  /** Fields of the payload the record leaves out. */
  readonly omit?: readonly string[];
  /** Logged only when this holds. */
  readonly when?: (payload: BrokerEventPayload<E>) => boolean;
}

const connectionMessages = (payload: { broker: { options: { connectionMessages: boolean } } }): boolean => payload.broker.options.connectionMessages;

const LOG_LINES: { readonly [E in BrokerEvent]: LogLine<E> } = {
  clientConnected: { event: 'client_connected', level: 'info', message: 'client connected', when: connectionMessages },
  clientDisconnected: { event: 'client_disconnected', level: 'info', message: 'client disconnected', when: connectionMessages },
  connectRefused: { event: 'connect_refused', level: 'info', message: 'connection refused' },
  connectTimeout: { event: 'connect_timeout', level: 'info', message: 'no CONNECT received in time; closing' },
  keepaliveTimeout: { event: 'keepalive_timeout', level: 'info', message: 'client exceeded 1.5 x keep alive; closing' },
  sessionTakeover: { event: 'session_takeover', level: 'info', message: 'client id reconnected; closing the older connection' },
  sessionExpired: { event: 'session_expired', level: 'debug', message: 'session expired' },
  willPublished: { event: 'will_published', level: 'info', message: 'publishing will' },
  willCancelled: { event: 'will_cancelled', level: 'debug', message: 'client id reconnected within the will delay; its will is not sent' },
  loginRevoked: { event: 'login_revoked', level: 'warn', message: 'disconnecting a client whose login no longer holds' },
  authFailed: { event: 'auth_failed', level: 'warn', message: 'login refused' },
  authBanned: { event: 'auth_banned', level: 'warn', message: 'too many failed logins; banning for a while' },
  authBusy: { event: 'auth_busy', level: 'warn', message: 'login refused: password checks are at their bounds' },
  authError: {
    event: 'auth_error',
    level: 'error',
    message: (p) => (p.during === 'password' ? 'internal error while checking a password' : 'internal error while checking a login'),
    omit: ['during'],
  },
  hashWorkerFailed: { event: 'hash_worker_failed', level: 'error', message: 'a password hashing worker failed; it is replaced for the next check' },
  publishRefused: { event: 'publish_refused', level: 'info', message: 'PUBLISH refused' },
  publishDenied: { event: 'publish_denied', level: 'debug', message: 'PUBLISH denied by the ACL' },
  publishDropped: {
    event: 'messages_dropped',
    level: 'warn',
    message: (p) =>
      'reason' in p
        ? `dropping messages for client ${clip(p.clientId)}: ${DROP_REASONS[p.reason]}`
        : `dropped ${p.count} more messages for client ${clip(p.clientId)} in the last ${p.seconds} s, mostly because ${DROP_REASONS[p.top]}`,
    omit: ['top'],
  },
  subscribed: { event: 'subscribe', level: 'debug', message: 'subscribed' },
  subscribeRefused: { event: 'subscribe_refused', level: 'info', message: 'SUBSCRIBE refused' },
  subscribeDenied: { event: 'subscribe_denied', level: 'debug', message: 'SUBSCRIBE denied by the ACL' },
  protocolError: { event: 'protocol_error', level: 'warn', message: 'closing connection after a protocol violation' },
  packetTooLargeForClient: {
    event: 'packet_too_large_for_client',
    level: 'warn',
    message: (p) => `not sending a ${p.packet.toUpperCase()}: it is larger than the Maximum Packet Size the client accepts`,
  },
  handlerError: { event: 'handler_error', level: 'error', message: 'internal error while handling a packet' },
  socketError: { event: 'socket_error', level: 'debug', message: 'socket error' },
  listenerError: { event: 'listener_error', level: 'error', message: 'listener error' },
  websocketRefused: { event: 'websocket_refused', level: 'info', message: 'WebSocket upgrade without the "mqtt" subprotocol refused' },
  websocketError: { event: 'websocket_error', level: 'debug', message: 'WebSocket handshake refused' },
  tlsClientRefused: { event: 'tls_client_refused', level: 'info', message: (p) => `TLS client refused: ${p.reason}` },
  // Scanners, resets, clients that do not trust our certificate are routine; a timeout is worth seeing.
  tlsHandshakeFailed: {
    event: 'tls_handshake_failed',
    level: (p) => (p.reason === 'timeout' ? 'info' : 'debug'),
    message: (p) => (p.reason === 'timeout' ? 'TLS handshake timed out; connection closed' : 'TLS handshake failed'),
  },
  tlsHandshakeCompleted: { event: 'tls_handshake_completed', level: 'debug', message: 'TLS handshake completed' },
  pskFileWarning: { event: 'psk_file_warning', level: 'warn', message: (p) => p.warning, omit: ['warning'] },
  limitRefused: {
    event: 'limit_refused',
    level: 'warn',
    message: (p) =>
      `${p.clientId === undefined ? 'client' : `client ${clip(p.clientId)}`}${p.address === undefined ? '' : ` from ${p.address}`} refused: ${REFUSAL_REASONS[p.limit]} (${p.limit} ${p.value})` +
      `${p.answered ? '' : ', closed without an answer'}; more refusals for this reason are summed up in limits_refused lines`,
    omit: ['logged'],
    // The first of its reason after a quiet spell; the others go into limitSummary (refusals.ts).
    when: (p) => p.logged,
  },
  limitSummary: {
    event: 'limits_refused',
    level: 'warn',
    message: (p) =>
      `refused ${p.count} more in the last ${p.seconds} s: ${Object.entries(p.byReason)
        .map(([reason, count]) => `${reason} ${count}`)
        .join(', ')}`,
  },
  overloadHeld: {
    event: 'overload_held',
    level: 'warn',
    message: (p) => `overload protection: not reading ${p.clientId === undefined ? 'a client' : `client ${clip(p.clientId)}`} (${p.cause === 'memory' ? 'memory near memory_limit' : 'event loop lag over max_event_loop_lag'})`,
  },
  overloadReleased: { event: 'overload_released', level: 'info', message: 'overload protection: reading the client again' },
  storeError: { event: 'store_error', level: 'error', message: (p) => `the store failed to ${p.operation}` },
  listenerStarted: { event: 'listening', level: 'info', message: (p) => `listening on ${p.path ?? `${p.host}:${p.port}`} (${p.protocol})` },
  listenerFailed: { event: 'listen_failed', level: 'error', message: (p) => p.reason, omit: ['reason'] },
  insecureListener: { event: 'insecure_listener', level: 'warn', message: (p) => p.warning, omit: ['warning'] },
  reloadSkipped: { event: 'reload_skipped', level: 'info', message: (p) => `${p.signal}: no TLS listener, password file or ACL file to reload` },
  tlsReloaded: { event: 'tls_reloaded', level: 'info', message: (p) => `reloaded the TLS certificate of ${p.host}:${p.port} (${p.protocol})` },
  tlsReloadFailed: {
    event: 'tls_reload_failed',
    level: 'error',
    message: (p) => `cannot reload the TLS certificate of ${p.host}:${p.port} (${p.protocol}); keeping the old one`,
  },
  authReloaded: {
    event: 'auth_reloaded',
    level: 'info',
    message: (p) => `reloaded ${[p.passwordFile, p.aclFile].filter((f) => f !== undefined).join(' and ')}`,
  },
  authReloadFailed: { event: 'auth_reload_failed', level: 'error', message: 'cannot reload the password/ACL files; keeping the rules in force' },
  passwordFileWarning: { event: 'password_file_warning', level: 'warn', message: (p) => p.warning, omit: ['warning'] },
  adminDisconnect: { event: 'admin_disconnect', level: 'warn', message: (p) => `client disconnected through the admin API by ${p.by ?? 'an unknown address'}` },
  adminTokenReloaded: { event: 'admin_token_reloaded', level: 'info', message: (p) => `reloaded the admin token from ${p.file}` },
  adminTokenReloadFailed: { event: 'admin_token_reload_failed', level: 'error', message: 'cannot reload the admin token; keeping the old one' },
  adminAuthFailed: { event: 'admin_auth_failed', level: 'warn', message: (p) => `admin API request refused: ${p.reason === 'missing' ? 'no bearer token' : 'wrong bearer token'}` },
};

function levelOf<E extends BrokerEvent>(event: E, payload: BrokerEventPayload<E>): Level {
  const level = LOG_LINES[event].level;
  return typeof level === 'function' ? level(payload) : level;
}

/** The log record of an event: its fields without `broker`, client-chosen strings clipped. */
export function logRecord<E extends BrokerEvent>(event: E, payload: BrokerEventPayload<E>): { level: Level; record: Record<string, unknown>; message: string } {
  const line = LOG_LINES[event];
  const record: Record<string, unknown> = { event: line.event };
  for (const [key, value] of Object.entries(payload)) {
    if (key === 'broker' || line.omit?.includes(key)) continue;
    record[key] = typeof value === 'string' ? clip(value) : Array.isArray(value) && value.every((v) => typeof v === 'string') ? clipList(value as string[], String) : value;
  }
  const message = typeof line.message === 'function' ? line.message(payload) : line.message;
  return { level: levelOf(event, payload), record, message };
}

function write<E extends BrokerEvent>(event: E, payload: BrokerEventPayload<E>): void {
  const when = LOG_LINES[event].when;
  if (when !== undefined && !when(payload)) return;
  const logger: Logger = payload.broker.logger;
  // Hot paths (a SUBSCRIBE, a denied PUBLISH) must not build records a debug-less log drops.
  if (logger.isLevelEnabled !== undefined && !logger.isLevelEnabled(levelOf(event, payload))) return;
  const { level, record, message } = logRecord(event, payload);
  logger[level](record, message);
}

let installed = false;

/** Subscribes the log to every broker event, once per process; every Broker calls it. */
export function installEventLog(): void {
  if (installed) return;
  installed = true;
  for (const event of Object.keys(BROKER_EVENTS) as BrokerEvent[]) {
    subscribe(BROKER_EVENTS[event], (message) => write(event, message as BrokerEventPayload<typeof event>));
  }
}
