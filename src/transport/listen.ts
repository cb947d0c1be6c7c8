// What every listener shares: binding a net.Server (TCP or TLS) and reporting where it listens.
import { lookup } from 'node:dns/promises';
import { lstat, unlink } from 'node:fs/promises';
import { isIP, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { MoatError } from '../codec/errors.js';
import type { Broker } from '../broker/broker.js';
import { emit } from '../broker/events.js';
import { ConnectionSlots } from '../broker/limits.js';
import type { ListenerPolicy } from '../broker/options.js';
import type { SocketDomain } from '../config/types.js';

export interface ListenerOptions {
  host: string | undefined;
  port: number;
  /** `listener 0 PATH`: listen on this Unix socket instead (host and port are then ignored). */
  socketPath?: string | undefined;
  /** `socket_domain`: bind IPv4 only or IPv6 only. */
  socketDomain?: SocketDomain | undefined;
  /** `bind_interface`: bind this network interface's address (looked up now). */
  bindInterface?: string | undefined;
  /** Disable Nagle's algorithm: MQTT messages are small and latency matters more than segment count. */
  noDelay?: boolean;
  /** Refuse connections beyond this many (-1 = unlimited). */
  maxConnections?: number;
  /** The listener's own settings (anonymous access, client ids, topic aliases). */
  policy?: ListenerPolicy;
}

export interface Listening {
  readonly server: Server;
  /** The bound address, or the Unix socket's path. */
  readonly host: string;
  /** The bound port; 0 for a Unix socket. */
  readonly port: number;
  close(): Promise<void>;
  /**
   * TLS listeners (mqtts, wss): re-read certfile/keyfile/cafile and use them for new handshakes;
   * connected clients stay. Throws (naming the file) and keeps the old certificate when one is unusable.
   */
  reloadTls?: () => void;
}

/** The listener's max_connections count, or undefined when it has no limit. */
export function connectionSlots(options: ListenerOptions, listener: string): ConnectionSlots | undefined {
  const limit = options.maxConnections;
  return limit === undefined || limit < 0 ? undefined : new ConnectionSlots(limit, listener);
}

/** Binds `server` and resolves once it listens; later errors are logged, never thrown. */
export async function bind(server: Server, broker: Broker, options: ListenerOptions): Promise<Listening> {
  const path = options.socketPath;
  if (path !== undefined) await removeStaleSocket(path);
  const where = path !== undefined ? { path } : { ...(await address(options)), port: options.port };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      server.on('error', (error) => emit(broker, 'listenerError', { err: error.message }));
      const bound = server.address();
      const port = typeof bound === 'object' && bound !== null ? bound.port : 0;
      const host = typeof bound === 'object' && bound !== null ? bound.address : (path ?? options.host ?? '0.0.0.0');
      resolve({ server, host, port, close: () => new Promise<void>((done) => server.close(() => done())) });
    });
  });
}

const FAMILY = { ipv4: 4, ipv6: 6 } as const;

/**
 * Where a TCP listener binds: bind_interface's address, else the host (resolved to the one
 * socket_domain asks for), else every interface (IPv4 only / IPv6 only with socket_domain).
 */
async function address(options: ListenerOptions): Promise<{ host?: string; ipv6Only?: boolean }> {
  const { host, socketDomain: domain } = options;
  if (options.bindInterface !== undefined) return { host: interfaceAddress(options.bindInterface, host, domain) };
  if (domain === undefined) return host === undefined ? {} : { host };
  if (host === undefined) return domain === 'ipv4' ? { host: '0.0.0.0' } : { host: '::', ipv6Only: true };
  const literal = isIP(host);
  if (literal !== 0 && literal !== FAMILY[domain]) throw new MoatError('MOAT_ERR_LISTEN', `${host} is not an ${domain === 'ipv4' ? 'IPv4' : 'IPv6'} address (socket_domain ${domain})`);
  try {
    return { host: (await lookup(host, { family: FAMILY[domain] })).address, ipv6Only: domain === 'ipv6' };
  } catch {
    throw new MoatError('MOAT_ERR_LISTEN', `${host} has no ${domain === 'ipv4' ? 'IPv4' : 'IPv6'} address (socket_domain ${domain})`);
  }
}

/**
 * As Mosquitto 2.0 does, the interface's address at start, not the device itself: the first IPv4
 * address, or the first IPv6 one with socket_domain ipv6 or when it has no IPv4 address. Mosquitto
 * binds one of each family; a moat listener binds one address.
 */
function interfaceAddress(name: string, host: string | undefined, domain: SocketDomain | undefined): string {
  const entries = networkInterfaces()[name];
  if (entries === undefined || entries.length === 0) throw new MoatError('MOAT_ERR_LISTEN', `bind_interface ${name}: there is no network interface "${name}"`);
  const family = (entries.some((e) => e.family === 'IPv4') && domain !== 'ipv6') || domain === 'ipv4' ? 'IPv4' : 'IPv6';
  const addresses = entries.filter((e) => e.family === family).map((e) => e.address);
  if (host !== undefined) {
    if (!addresses.includes(host)) throw new MoatError('MOAT_ERR_LISTEN', `bind_interface ${name}: the listener's address ${host} is not one of ${name}'s ${family} addresses (${addresses.join(', ') || 'none'})`);
    return host;
  }
  const first = addresses[0];
  if (first === undefined) throw new MoatError('MOAT_ERR_LISTEN', `bind_interface ${name}: interface "${name}" has no ${family} address (socket_domain ${domain ?? 'unset'})`);
  return first;
}

/** A socket file left by a broker that did not close it would make listen fail; anything else at the path is kept. */
async function removeStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (stat === undefined) return;
  if (!stat.isSocket()) throw new MoatError('MOAT_ERR_LISTEN', `${path} exists and is not a socket; moat will not replace it`);
  await unlink(path);
}
