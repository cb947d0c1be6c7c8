// The admin HTTP(S) listener: /healthz, /readyz, /metrics and the JSON API (api.ts), on Node's
// own http/https (a handful of fixed routes need no framework). Off unless admin_listener is set;
// loopback-only without a token (config/admin-options.ts refuses anything else).
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Broker } from '../broker/broker.js';
import { emit } from '../broker/events.js';
import { MoatError } from '../codec/errors.js';
import type { AdminConfig } from '../config/types.js';
import type { EventTally } from '../observe/tally.js';
import { secureContextOptions } from '../transport/tls-files.js';
import { client, clients, disconnect, stats, subscriptions, type ApiAnswer, type ApiContext } from './api.js';
import { AdminAuth } from './auth.js';
import { BrokerMetrics } from '../observe/metrics.js';
import { BadRequest } from './paging.js';

export interface AdminServerOptions {
  readonly config: AdminConfig;
  /** The token in force (admin_token, or admin_token_file's content); undefined = open, loopback only. */
  readonly token: string | undefined;
  readonly broker: Broker;
  readonly tally: EventTally;
  readonly version: string;
  /** The configured connection limit; -1 = none. */
  readonly connectionLimit: number;
  /** Capacity percent at which /api/stats says alert. */
  readonly alertPercent: number;
  /** Why the server is not ready (a listener closed, the broker shutting down); empty = ready. */
  readonly readiness: () => readonly string[];
}

export interface AdminServer {
  readonly protocol: 'admin-http' | 'admin-https';
  readonly host: string;
  readonly port: number;
  readonly open: boolean;
  /** Requests from now on need this token (admin_token_file re-read on SIGHUP). */
  setToken(token: string): void;
  /** HTTPS: re-reads admin_certfile/admin_keyfile for new connections; throws TlsFileError, keeping the old ones, when one is unusable. */
  reloadTls?: () => void;
  close(): Promise<void>;
}

/** Headers every answer carries: nothing here is for caches or for sniffing browsers. */
const COMMON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

function answer(response: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, { ...COMMON_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

const GET = ['GET', 'HEAD'];

/** The route of a path, its segments URL-decoded one by one (so a client id may hold an encoded "/"). */
function segmentsOf(pathname: string): string[] {
  try {
    return pathname.split('/').slice(1).map((part) => decodeURIComponent(part));
  } catch {
    throw new BadRequest('the path is not valid percent-encoded UTF-8');
  }
}

/** Opens the admin listener; rejects (naming the admin_listener line) when it cannot bind or read its certificate. */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { config, broker } = options;
  const auth = new AdminAuth(options.token);
  const metrics = new BrokerMetrics({ broker, tally: options.tally, version: options.version, connectionLimit: options.connectionLimit });
  const context: ApiContext = { broker, tally: options.tally, version: options.version, connectionLimit: options.connectionLimit, alertPercent: options.alertPercent };
  const at = `${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port} (${config.source.file}:${config.source.line})`;

  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://admin');
    const only = (allowed: readonly string[]): boolean => {
      if (allowed.includes(method)) return true;
      answer(response, 405, { error: `${url.pathname} answers ${allowed.filter((m) => m !== 'HEAD').join(', ')}, not ${method}` }, { allow: allowed.join(', ') });
      return false;
    };
    if (url.pathname === '/healthz') {
      if (only(GET)) answer(response, 200, { status: 'ok' });
      return;
    }
    if (url.pathname === '/readyz') {
      if (!only(GET)) return;
      const reasons = options.readiness();
      answer(response, reasons.length === 0 ? 200 : 503, reasons.length === 0 ? { ready: true } : { ready: false, reasons });
      return;
    }
    const verdict = auth.check(request);
    if (!verdict.allowed) {
      if (verdict.status === 401) {
        emit(broker, 'adminAuthFailed', { address: request.socket.remoteAddress, method, path: url.pathname, reason: verdict.reason });
        const challenge = verdict.reason === 'wrong' ? 'Bearer realm="moat", error="invalid_token"' : 'Bearer realm="moat"';
        answer(response, 401, { error: verdict.message }, { 'www-authenticate': challenge });
      } else {
        answer(response, 403, { error: verdict.message });
      }
      return;
    }
    if (url.pathname === '/metrics') {
      if (!only(GET)) return;
      const text = await metrics.render();
      response.writeHead(200, { ...COMMON_HEADERS, 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
      response.end(text);
      return;
    }
    let result: ApiAnswer | undefined;
    const [api, resource, id, action, ...rest] = segmentsOf(url.pathname);
    if (api === 'api' && rest.length === 0) {
      if (resource === 'stats' && id === undefined) result = only(GET) ? stats(context) : undefined;
      else if (resource === 'subscriptions' && id === undefined) result = only(GET) ? subscriptions(context, url.searchParams) : undefined;
      else if (resource === 'clients' && id === undefined) result = only(GET) ? clients(context, url.searchParams) : undefined;
      else if (resource === 'clients' && id !== undefined && action === undefined) result = only(GET) ? client(context, id) : undefined;
      else if (resource === 'clients' && id !== undefined && action === 'disconnect') result = only(['POST']) ? disconnect(context, id, request.socket.remoteAddress) : undefined;
      else result = { status: 404, body: { error: `no such admin API route: ${url.pathname}` } };
      if (result === undefined) return; // 405 already answered
    } else {
      result = { status: 404, body: { error: `no such path: ${url.pathname}; the admin listener serves /metrics, /healthz, /readyz and /api/...` } };
    }
    answer(response, result.status, result.body, result.headers);
  };

  const handler = (request: IncomingMessage, response: ServerResponse): void => {
    request.resume(); // no route reads a body
    route(request, response).catch((error: unknown) => {
      if (error instanceof BadRequest) answer(response, 400, { error: error.message });
      else if (!response.headersSent) answer(response, 500, { error: 'internal error' });
      else response.destroy();
    });
  };

  let server: HttpServer;
  let protocol: AdminServer['protocol'] = 'admin-http';
  let reloadTls: (() => void) | undefined;
  const tls = config.tls;
  if (tls !== undefined) {
    const contextOptions = (): ReturnType<typeof secureContextOptions> => secureContextOptions({ ...tls, requireCertificate: false, handshakeTimeout: 10, useIdentityAsUsername: false, useSubjectAsUsername: false });
    let tlsOptions;
    try {
      tlsOptions = contextOptions();
    } catch (error) {
      metrics.close();
      throw new MoatError('MOAT_ERR_LISTEN', `cannot open the admin listener on ${at}: ${(error as Error).message}`, { cause: error });
    }
    const https = createHttpsServer({ ...tlsOptions, handshakeTimeout: 10_000 }, handler);
    reloadTls = () => https.setSecureContext(contextOptions());
    server = https;
    protocol = 'admin-https';
  } else {
    server = createHttpServer(handler);
  }
  // A slow or silent peer must not hold a socket for long: every route answers at once.
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;

  const bound = await new Promise<{ host: string; port: number }>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: config.host, port: config.port }, () => {
      server.off('error', reject);
      server.on('error', (error) => emit(broker, 'listenerError', { err: error.message }));
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? { host: address.address, port: address.port } : { host: config.host, port: config.port });
    });
  }).catch((error: unknown) => {
    metrics.close();
    emit(broker, 'listenerFailed', { host: config.host, port: config.port, path: undefined, err: (error as Error).message, reason: `cannot open the admin listener on ${at}` });
    throw new MoatError('MOAT_ERR_LISTEN', `cannot open the admin listener on ${at}: ${(error as Error).message}`, { cause: error });
  });

  let closed: Promise<void> | undefined;
  return {
    protocol,
    host: bound.host,
    port: bound.port,
    get open() {
      return server.listening;
    },
    setToken: (token) => auth.setToken(token),
    ...(reloadTls === undefined ? {} : { reloadTls }),
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        metrics.close();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
