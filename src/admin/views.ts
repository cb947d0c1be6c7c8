// What the admin API shows of the engine: plain JSON objects built from read-only accessors
// (Broker.sessions(), Session's sizes, Connection's counters). Never a password, hash or key.
import type { Broker } from '../broker/broker.js';
import type { Connection } from '../broker/connection.js';
import { keepaliveSecondsOf } from '../broker/keepalive.js';
import type { Session } from '../broker/session.js';
import type { ClientDetail, ClientView } from './shapes.js';

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
