// The JSON admin API: /api/stats, /api/clients (paged, sorted), /api/clients/:id,
// POST /api/clients/:id/disconnect, /api/subscriptions. Shapes are fixed: `moat top` and the
// dashboard read them (docs/MONITORING.md).
import type { Broker } from '../broker/broker.js';
import { emit } from '../broker/events.js';
import { ReasonCode } from '../codec/reason-codes.js';
import type { EventTally } from '../observe/tally.js';
import { BadRequest, pageOf, paged } from './paging.js';
import { capacityPercent } from '../observe/capacity.js';
import type { ClientView, StatsView, SubscriptionView } from './shapes.js';
import { clientDetail, clientView, connectedClients, findClient } from './views.js';

export interface ApiContext {
  readonly broker: Broker;
  readonly tally: EventTally;
  readonly version: string;
  /** The configured connection limit; -1 = none. */
  readonly connectionLimit: number;
  /** The capacity alert's text while it is set ($SYS/broker/capacity/alert, with its hysteresis). */
  readonly capacityAlert: () => string | undefined;
}

/** What a route answers: a status and a JSON body (headers such as Allow besides). */
export interface ApiAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

const SORTS = {
  id: (a: ClientView, b: ClientView) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  // Busiest first: what `moat top` shows.
  messages: (a: ClientView, b: ClientView) => b.messagesIn + b.messagesOut - (a.messagesIn + a.messagesOut) || SORTS.id(a, b),
  // Longest connected first.
  connected: (a: ClientView, b: ClientView) => (a.connectedSince < b.connectedSince ? -1 : a.connectedSince > b.connectedSince ? 1 : SORTS.id(a, b)),
} as const;
type SortKey = keyof typeof SORTS;

const sum = (counts: Readonly<Record<string, number>>): number => Object.values(counts).reduce((a, b) => a + b, 0);

export function stats(context: ApiContext): ApiAnswer {
  const { broker, connectionLimit } = context;
  const s = broker.stats();
  const t = context.tally.snapshot();
  const percent = connectionLimit > 0 ? Number(capacityPercent(s.connected, connectionLimit)) : null;
  const body: StatsView = {
    version: context.version,
    uptimeSeconds: s.uptimeSeconds,
    connections: { connected: s.connected, limit: connectionLimit, peak: s.peakConnections, percent, alert: context.capacityAlert() !== undefined },
    sessions: s.sessions,
    subscriptions: s.subscriptions,
    retained: s.retained,
    messages: { received: s.messagesReceived, sent: s.messagesSent },
    bytes: { received: s.bytesReceived, sent: s.bytesSent },
    dropped: { total: s.dropped, byReason: s.droppedByReason },
    refused: { total: sum(t.connectRefused), byReason: t.connectRefused },
    // Refusals by a configured limit (connections, rates, memory, subscriptions, topics), by limit.
    limitRefused: { total: s.refused, byReason: s.refusedByReason },
    authFailures: t.authFailures,
    tlsHandshakeFailures: sum(t.tlsHandshakeFailures),
  };
  return { status: 200, body };
}

export function clients(context: ApiContext, params: URLSearchParams): ApiAnswer {
  const page = pageOf(params, ['offset', 'limit', 'sort']);
  const sort = params.get('sort') ?? 'id';
  if (!Object.hasOwn(SORTS, sort)) throw new BadRequest(`sort must be one of ${Object.keys(SORTS).join(', ')}, got "${sort}"`);
  const all = Array.from(connectedClients(context.broker), clientView).sort(SORTS[sort as SortKey]);
  return { status: 200, body: paged(all, page, 'clients') };
}

export function subscriptions(context: ApiContext, params: URLSearchParams): ApiAnswer {
  const page = pageOf(params, ['offset', 'limit']);
  const all: SubscriptionView[] = [];
  for (const session of context.broker.sessions()) {
    for (const entry of session.subscriptions.values()) all.push({ clientId: session.clientId, filter: entry.filter, qos: entry.qos });
  }
  all.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : a.filter < b.filter ? -1 : a.filter > b.filter ? 1 : 0));
  return { status: 200, body: paged(all, page, 'subscriptions') };
}

function noSuchClient(clientId: string): ApiAnswer {
  return { status: 404, body: { error: `no client with id "${clientId}" is connected` } };
}

export function client(context: ApiContext, clientId: string): ApiAnswer {
  const found = findClient(context.broker, clientId);
  return found === undefined ? noSuchClient(clientId) : { status: 200, body: clientDetail(found) };
}

/**
 * Closes the client's connection as the server: a v5 client is sent DISCONNECT 0x98 Administrative
 * action first. Its will is published, as for every close the client did not ask for
 * [MQTT-3.1.2-8]; its session stays (by its expiry), so it may reconnect: this is not a ban.
 */
export function disconnect(context: ApiContext, clientId: string, by: string | undefined): ApiAnswer {
  const found = findClient(context.broker, clientId);
  if (found === undefined) return noSuchClient(clientId);
  const { connection } = found;
  emit(context.broker, 'adminDisconnect', { clientId, username: connection.username, address: connection.remoteAddress, by });
  connection.close(ReasonCode.AdministrativeAction, 'disconnected by an administrator');
  return { status: 200, body: { disconnected: true } };
}
