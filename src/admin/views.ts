// What the admin API shows of the engine: plain JSON objects built from read-only accessors
// (Broker.sessions(), Session's sizes, Connection's counters). Never a password, hash or key.
import type { Broker } from '../broker/broker.js';
import type { Connection } from '../broker/connection.js';
import { keepaliveSecondsOf } from '../broker/keepalive.js';
import type { Session } from '../broker/session.js';

/** One connected client, as /api/clients lists it. */
export interface ClientView {
  readonly id: string;
  /** null: anonymous. */
  readonly username: string | null;
  readonly address: string | null;
  /** The listener it came in on, e.g. "mqtt:1883". */
  readonly listener: string | null;
  readonly protocolVersion: number;
  /** ISO 8601: when its socket was accepted (for TLS: when the handshake finished). */
  readonly connectedSince: string;
  /** Keep Alive in force, seconds; 0 = none. */
  readonly keepalive: number;
  readonly subscriptions: number;
  readonly inflight: number;
  readonly queued: number;
  readonly dropped: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
}

export interface ClientDetail extends ClientView {
  readonly subscriptionFilters: ReadonlyArray<{ readonly filter: string; readonly qos: number }>;
}

/** A connected client: the session and the connection it is on. */
export interface ConnectedClient {
  readonly session: Session;
  readonly connection: Connection;
}

export function* connectedClients(broker: Broker): Generator<ConnectedClient> {
  for (const session of broker.sessions()) {
    const connection = session.connection;
    if (connection !== undefined && connection.connected) yield { session, connection };
  }
}

export function clientView({ session, connection }: ConnectedClient): ClientView {
  return {
    id: session.clientId,
    username: connection.username ?? null,
    address: connection.remoteAddress ?? null,
    listener: connection.info.listener ?? null,
    protocolVersion: connection.protocolVersion,
    connectedSince: new Date(connection.openedAt).toISOString(),
    keepalive: keepaliveSecondsOf(connection.keepaliveMs),
    subscriptions: session.subscriptions.size,
    inflight: session.inflight.size,
    queued: session.queueLength,
    dropped: session.dropped,
    messagesIn: connection.messagesIn,
    messagesOut: connection.messagesOut,
  };
}

export function clientDetail(client: ConnectedClient): ClientDetail {
  const subscriptionFilters = [...client.session.subscriptions.values()].map((entry) => ({ filter: entry.filter, qos: entry.qos }));
  return { ...clientView(client), subscriptionFilters };
}

/** The client connected with `clientId`, if any. */
export function findClient(broker: Broker, clientId: string): ConnectedClient | undefined {
  const session = broker.getSession(clientId);
  const connection = session?.connection;
  return session !== undefined && connection !== undefined && connection.connected ? { session, connection } : undefined;
}

export interface QueueTotals {
  readonly queued: number;
  readonly queuedBytes: number;
  /** The longest single queue. */
  readonly deepest: number;
  readonly inflight: number;
}

/** Queue and in-flight sizes over every session (one pass; at scrape time, not per message). */
export function queueTotals(broker: Broker): QueueTotals {
  let queued = 0;
  let queuedBytes = 0;
  let deepest = 0;
  let inflight = 0;
  for (const session of broker.sessions()) {
    const length = session.queueLength;
    queued += length;
    queuedBytes += session.queuedBytes;
    if (length > deepest) deepest = length;
    inflight += session.inflight.size;
  }
  return { queued, queuedBytes, deepest, inflight };
}
