// The admin listener as the composition root opens it: the token read from admin_token_file (its
// first line, checked as admin_token is), readiness from the server's listeners and broker, and the
// start-up lines (listening; a warning when it is open without a token).
import { readFile } from 'node:fs/promises';
import type { AdminServer } from '../admin/server.js';
import type { Broker } from '../broker/broker.js';
import { emit } from '../broker/events.js';
import { weakTokenProblem } from '../config/admin-options.js';
import { CONFIG_ISSUE_KINDS, ConfigError, where } from '../config/errors.js';
import type { AdminConfig, BrokerConfig } from '../config/types.js';
import type { SysPublisher } from '../observe/sys.js';
import type { EventTally } from '../observe/tally.js';
import { TlsFileError } from '../transport/tls-files.js';
import { MOAT_VERSION } from '../version.js';
import type { ServerListener } from './listeners.js';

/** The token in force: admin_token, or the first line of admin_token_file; ConfigError (file:line) when that file is unusable. */
export async function adminToken(admin: AdminConfig): Promise<string | undefined> {
  if (admin.tokenFile === undefined) return admin.token;
  const source = admin.tokenFileSource ?? admin.source;
  const fail = (text: string, fix: string): never => {
    throw new ConfigError([{ kind: CONFIG_ISSUE_KINDS.file, file: source.file, line: source.line, option: 'admin_token_file', message: `${where(source.file, source.line)}${text}. Fix: ${fix}` }]);
  };
  let text: string;
  try {
    text = await readFile(admin.tokenFile, 'utf8');
  } catch (error) {
    return fail(`cannot read admin_token_file ${admin.tokenFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'check the path and that the broker may read it');
  }
  const token = (text.split(/\r?\n/, 1)[0] ?? '').trim();
  const weak = weakTokenProblem(token, `the token in ${admin.tokenFile}`);
  if (token === '' || /\s/.test(token) || weak !== undefined) {
    return fail(token === '' ? `admin_token_file ${admin.tokenFile} is empty` : /\s/.test(token) ? `the token in ${admin.tokenFile} contains spaces` : (weak as string), `write one token on its first line, e.g. "openssl rand -hex 32 > ${admin.tokenFile}"`);
  }
  return token;
}

/**
 * The connection limit $SYS, the admin API and metrics report: the sum of the listeners'
 * max_connections (-1 when any has none), and global_max_connections when that is lower.
 */
export function connectionLimitOf(config: Pick<BrokerConfig, 'listeners' | 'globalMaxConnections'>): number {
  const limits = config.listeners.map((l) => l.maxConnections);
  const listeners = limits.length === 0 || limits.some((l) => l < 0) ? -1 : limits.reduce((a, b) => a + b, 0);
  const global = config.globalMaxConnections;
  if (global < 0) return listeners;
  return listeners < 0 ? global : Math.min(global, listeners);
}

/** Why the server is not ready, in sentences; empty when every listener is open, the broker accepts connections and, in a cluster, the node reaches Redis. */
export function readinessOf(broker: Broker, listeners: readonly ServerListener[], cluster?: () => string[]): string[] {
  const reasons: string[] = [];
  if (!broker.accepting) reasons.push('the broker is shutting down and accepts no connections');
  for (const l of listeners) {
    if (!l.listening.server.listening) reasons.push(`listener ${l.protocol} ${l.host}:${l.port} (${l.listener.source.file}:${l.listener.source.line}) is not listening`);
  }
  // A node cut off from Redis serves its own clients, but not as part of the cluster: a load balancer should prefer the others.
  if (cluster !== undefined) reasons.push(...cluster());
  return reasons;
}

/** Opens the admin listener (prom-client is loaded only then) and logs where it listens. */
export async function openAdmin(
  config: BrokerConfig,
  admin: AdminConfig,
  token: string | undefined,
  broker: Broker,
  tally: EventTally,
  sys: SysPublisher,
  listeners: readonly ServerListener[],
  cluster?: () => string[],
): Promise<AdminServer> {
  const { startAdminServer } = await import('../admin/server.js');
  const server = await startAdminServer({
    config: admin,
    token,
    broker,
    tally,
    version: MOAT_VERSION,
    connectionLimit: connectionLimitOf(config),
    // The one capacity alert, with its hysteresis: the same as $SYS/broker/capacity/alert.
    capacityAlert: () => sys.capacityAlert,
    readiness: () => readinessOf(broker, listeners, cluster),
  });
  if (token === undefined) {
    emit(broker, 'insecureListener', {
      host: server.host,
      port: server.port,
      warning: `the admin listener on ${server.host}:${server.port} has no token: anyone on this machine can read /metrics and the client list and disconnect clients. Fix: add "admin_token_file PATH" (a file holding a token from "openssl rand -hex 32").`,
    });
  }
  emit(broker, 'listenerStarted', { protocol: server.protocol, host: server.host, port: server.port, path: undefined });
  return server;
}

/**
 * What SIGHUP re-reads of the admin listener, or undefined when nothing: its certificate and key
 * (tls_reloaded / tls_reload_failed, protocol admin-https) and admin_token_file. A file that cannot
 * be used is logged and the old certificate or token stays in force.
 */
export function adminReload(admin: AdminConfig, server: AdminServer, broker: Broker): (() => Promise<void>) | undefined {
  const reloadTls = server.reloadTls;
  const tokenFile = admin.tokenFile;
  if (reloadTls === undefined && tokenFile === undefined) return undefined;
  return async () => {
    if (reloadTls !== undefined) {
      const where = { protocol: server.protocol, host: server.host, port: server.port };
      try {
        reloadTls();
        emit(broker, 'tlsReloaded', { ...where, certfile: admin.tls?.certfile, keyfile: admin.tls?.keyfile, cafile: undefined, crlfile: undefined, pskFile: undefined });
      } catch (error) {
        emit(broker, 'tlsReloadFailed', { ...where, file: error instanceof TlsFileError ? error.file : undefined, err: (error as Error).message });
      }
    }
    if (tokenFile !== undefined) {
      try {
        const token = await adminToken(admin);
        if (token !== undefined) server.setToken(token);
        emit(broker, 'adminTokenReloaded', { file: tokenFile });
      } catch (error) {
        emit(broker, 'adminTokenReloadFailed', { file: tokenFile, err: (error as Error).message });
      }
    }
  };
}
