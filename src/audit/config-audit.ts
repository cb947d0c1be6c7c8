// `moat audit --config FILE`: the production checklist applied to a mosquitto.conf-style config.
// Each check returns findings; the order here is the order of the report within a severity.
import { parseRedisUrl } from '../cluster/redis-url.js';
import { ConfigError, describeListener, isLoopbackHost, loadConfig, resolveSecurity, type BrokerConfig, type ListenerConfig, type ListenerSecurity } from '../config/index.js';
import { readFile } from 'node:fs/promises';
import { AclFile, type AclRule } from '../auth/acl-file.js';
import { PasswordFile } from '../auth/password-file.js';
import { AuditError, finding, type Finding } from './findings.js';

/** PBKDF2 rounds below which a `$7$` hash is worth redoing (mosquitto_passwd 2.0 uses 101; moat passwd more). */
export const MIN_PBKDF2_ITERATIONS = 10_000;

/** Loads `path` with the broker's own config reader, then audits it. Unreadable or invalid config → AuditError. */
export async function auditConfigFile(path: string): Promise<Finding[]> {
  let config: BrokerConfig;
  try {
    config = await loadConfig(path);
  } catch (error) {
    if (error instanceof ConfigError) throw new AuditError(`cannot audit ${path}: the config does not load:\n${error.message}`, { cause: error });
    throw error;
  }
  return auditConfig(config);
}

export interface ConfigAuditOptions {
  /** The open-file (descriptor) limit a broker started here gets; default: this process's soft limit, where the OS tells it. */
  readonly openFiles?: number | undefined;
}

/** Audits a loaded config; the password and ACL files it names are read with the broker's own readers. */
export async function auditConfig(config: BrokerConfig, options: ConfigAuditOptions = {}): Promise<Finding[]> {
  const security = resolveSecurity(config);
  const openFiles = 'openFiles' in options ? options.openFiles : await openFileLimit();
  const files = new FileCache();
  return [
    ...exposure(security),
    ...tls(security),
    ...anonymous(security),
    ...(await passwords(security, files)),
    ...(await acls(security, files)),
    ...limits(config),
    descriptorHeadroom(config, openFiles),
    ...monitoring(config),
    ...adminListener(config),
    ...durability(config),
  ];
}

/** "listener 8883 (moat.conf:12)". */
function named(listener: ListenerConfig): string {
  const what = `${describeListener(listener)}${listener.protocol === 'websockets' ? ' (websockets)' : ''}`;
  return listener.source.line === 0 ? what : `${what}, ${listener.source.file}:${listener.source.line}`;
}

function loopbackLine(listener: ListenerConfig): string {
  return `listener ${listener.port} 127.0.0.1`;
}

function exposure(security: readonly ListenerSecurity[]): Finding[] {
  const exposed = security.filter((s) => !s.loopbackOnly);
  if (exposed.length === 0) {
    return [finding('private-broker', 'ok', 'Every listener is bound to a loopback address', 'Only clients on this machine can connect.')];
  }
  return exposed.map((s) =>
    finding(
      'private-broker',
      'info',
      `Listener ${describeListener(s.listener)} is reachable from the network`,
      `${named(s.listener)} is bound to ${s.listener.host === undefined ? 'all interfaces' : s.listener.host}; the TLS and authentication findings decide whether that is safe. If only local clients use it, bind it to loopback.`,
      loopbackLine(s.listener),
    ),
  );
}

const TLS_LINES = ['certfile /etc/moat/certs/server.crt', 'keyfile /etc/moat/certs/server.key'];

function tls(security: readonly ListenerSecurity[]): Finding[] {
  const out: Finding[] = [];
  const anyTls = security.some((s) => s.listener.tls !== undefined);
  for (const s of security) {
    const l = s.listener;
    if (l.tls !== undefined || s.loopbackOnly) continue;
    const credentials = !s.anonymousAllowed || l.passwordFile !== undefined;
    const toTls = `listener ${l.port === 1883 ? 8883 : l.port}${l.host === undefined ? '' : ` ${l.host}`}\n${TLS_LINES.join('\n')}`;
    if (credentials) {
      out.push(finding('tls', 'critical', `Passwords cross the network in plain text on ${describeListener(l)}`,
        `${named(l)} has no TLS, and its clients log in with a username and password: anyone on the network path can read them, and every message.`,
        `${toTls}\n(moat certs --dir /etc/moat/certs creates development certificates)`));
    } else if (anyTls) {
      out.push(finding('plaintext-beside-tls', 'warning', `Plain-text listener ${describeListener(l)} next to a TLS listener`,
        `${named(l)} has no TLS: clients that pick this port send everything in the clear, which defeats the TLS listener.`,
        `remove the listener at ${l.source.file}:${l.source.line}, or bind it to loopback: ${loopbackLine(l)}`));
    } else {
      out.push(finding('tls', 'warning', `Messages cross the network in plain text on ${describeListener(l)}`,
        `${named(l)} has no TLS: anyone on the network path can read and alter every message.`, toTls));
    }
  }
  const withTls = security.filter((s) => s.listener.tls !== undefined);
  if (out.length === 0) {
    out.push(withTls.length > 0
      ? finding('tls', 'ok', 'Every network listener uses TLS', withTls.map((s) => named(s.listener)).join('; '))
      : finding('tls', 'ok', 'No network listener, so no TLS needed', 'Every listener is bound to a loopback address.'));
  }
  for (const s of withTls) {
    const t = s.listener.tls;
    if (t === undefined) continue;
    out.push(t.tlsVersion === undefined
      ? finding('tls-version', 'info', `No tls_version floor on ${describeListener(s.listener)}`,
        'moat accepts TLS 1.2 and 1.3 by default, but older Mosquitto versions also accept TLS 1.1 with the same file; state the floor explicitly.',
        'tls_version tlsv1.2')
      : finding('tls-version', 'ok', `TLS floor ${t.tlsVersion} on ${describeListener(s.listener)}`, named(s.listener)));
    out.push(t.requireCertificate
      ? finding('client-certificates', 'ok', `Clients need a certificate on ${describeListener(s.listener)}`, 'require_certificate true')
      : finding('client-certificates', 'info', `Clients are not asked for a certificate on ${describeListener(s.listener)}`,
        'Fine when every client logs in with a password; client certificates stop clients that lack one before they can try passwords.',
        `require_certificate true\ncafile /etc/moat/certs/ca.crt`));
  }
  return out;
}

function anonymous(security: readonly ListenerSecurity[]): Finding[] {
  const open = security.filter((s) => s.anonymousAllowed);
  if (open.length === 0) return [finding('anonymous-access', 'ok', 'Anonymous clients are refused on every listener', security.map((s) => s.reason).filter(unique).join('; '))];
  return open.map((s) =>
    s.loopbackOnly
      ? finding('anonymous-access', 'info', `Anonymous clients may connect to ${describeListener(s.listener)} (this machine only)`, s.reason, 'allow_anonymous false')
      : finding('anonymous-access', 'critical', `Anyone can connect to ${describeListener(s.listener)} without a password`,
        `${named(s.listener)}: ${s.reason}. Anyone who can reach the port can read and publish any topic the ACL does not forbid.`,
        'allow_anonymous false\npassword_file /etc/moat/passwd'),
  );
}

function unique<T>(value: T, index: number, all: readonly T[]): boolean {
  return all.indexOf(value) === index;
}

type Loaded<T> = { readonly file: T } | { readonly error: string };

/** Each file named by the config is read once, however many listeners share it. */
class FileCache {
  readonly #passwords = new Map<string, Promise<Loaded<PasswordFile>>>();
  readonly #acls = new Map<string, Promise<Loaded<AclFile>>>();

  passwords(path: string): Promise<Loaded<PasswordFile>> {
    return cached(this.#passwords, path, () => PasswordFile.load(path));
  }

  acl(path: string): Promise<Loaded<AclFile>> {
    return cached(this.#acls, path, () => AclFile.load(path));
  }
}

function cached<T>(map: Map<string, Promise<Loaded<T>>>, path: string, load: () => Promise<T>): Promise<Loaded<T>> {
  let entry = map.get(path);
  if (entry === undefined) {
    // The readers throw ConfigError (unreadable file, bad lines): that is a finding here, not a crash.
    entry = load().then(
      (file) => ({ file }),
      (error: unknown) => {
        if (error instanceof ConfigError) return { error: error.issues.map((i) => i.message).join(' ') };
        throw error;
      },
    );
    map.set(path, entry);
  }
  return entry;
}

async function passwords(security: readonly ListenerSecurity[], files: FileCache): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const s of security) {
    if (s.listener.passwordFile === undefined && !s.loopbackOnly) {
      out.push(finding('password-file', 'critical', `No password file for ${describeListener(s.listener)}`,
        `${named(s.listener)} is reachable from the network and has no password_file: clients either connect anonymously or not at all.`,
        'password_file /etc/moat/passwd\nmoat passwd -c /etc/moat/passwd USERNAME'));
    }
  }
  const paths = security.map((s) => s.listener.passwordFile).filter((p): p is string => p !== undefined).filter(unique);
  for (const path of paths) {
    const loaded = await files.passwords(path);
    if ('error' in loaded) {
      out.push(finding('password-file', 'warning', `Cannot use the password file ${path}`, `${loaded.error} The broker refuses to start with it too.`, `moat passwd -c ${path} USERNAME`));
      continue;
    }
    const users = loaded.file.usernames();
    out.push(users.length === 0
      ? finding('password-file', 'warning', `The password file ${path} has no users`, 'No client can log in.', `moat passwd ${path} USERNAME`)
      : finding('password-file', 'ok', `Password file ${path}`, `${users.length} user${users.length === 1 ? '' : 's'}.`));
    const { warnings } = loaded.file;
    if (warnings.length > 0) {
      out.push(finding('password-file', 'warning', `The password file ${path} has ${warnings.length} line${warnings.length === 1 ? '' : 's'} to fix`,
        `${warnings.join(' ')} The broker starts with it and skips such lines.`, `moat passwd ${path} USERNAME`));
    }
    out.push(...weakHashes(loaded.file));
  }
  return out;
}

function weakHashes(file: PasswordFile): Finding[] {
  const why: string[] = [];
  const weak: string[] = [];
  for (const user of file.usernames()) {
    const hash = file.lookup(user);
    if (hash === undefined) continue;
    if (hash.kind === 'sha512') why.push(`${user} ($6$: one SHA-512 round)`);
    else if (hash.iterations < MIN_PBKDF2_ITERATIONS) why.push(`${user} ($7$: ${hash.iterations} PBKDF2 iterations)`);
    else continue;
    weak.push(user);
  }
  const path = file.file;
  if (weak.length === 0) {
    return file.usernames().length === 0 ? [] : [finding('password-hashes', 'ok', `Every hash in ${path} is PBKDF2 with at least ${MIN_PBKDF2_ITERATIONS} iterations`, '')];
  }
  return [finding('password-hashes', 'warning', `${weak.length} weak password hash${weak.length === 1 ? '' : 'es'} in ${path}: re-hash with moat passwd`,
    `A stolen copy of the file can be brute-forced quickly: ${why.join(', ')}.`,
    weak.map((user) => `moat passwd ${path} ${user}`).join('\n'))];
}

async function acls(security: readonly ListenerSecurity[], files: FileCache): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const s of security) {
    if (s.listener.aclFile !== undefined) continue;
    out.push(finding('acl-file', s.loopbackOnly ? 'info' : 'warning', `No ACL file for ${describeListener(s.listener)}`,
      `${named(s.listener)}: every client that connects may read and publish every topic.`,
      'acl_file /etc/moat/acl\n(in /etc/moat/acl, each user only under its own subtree:) pattern readwrite clients/%u/#'));
  }
  const paths = security.map((s) => s.listener.aclFile).filter((p): p is string => p !== undefined).filter(unique);
  for (const path of paths) {
    const loaded = await files.acl(path);
    if ('error' in loaded) {
      out.push(finding('acl-file', 'warning', `Cannot use the ACL file ${path}`, `${loaded.error} The broker refuses to start with it too.`, `acl_file ${path}`));
      continue;
    }
    const { rules } = loaded.file.describe();
    out.push(finding('acl-file', 'ok', `ACL file ${path}`, `${rules.length} rule${rules.length === 1 ? '' : 's'}.`));
    out.push(...readAll(path, rules));
  }
  return out;
}

/** `pattern read #` applies to every client; `topic read #` before any `user` line to anonymous ones. */
function readAll(path: string, rules: readonly AclRule[]): Finding[] {
  const everyone = rules.filter((r) => r.filter === '#' && (r.access === 'read' || r.access === 'readwrite') && (r.kind === 'pattern' || r.username === undefined));
  if (everyone.length === 0) return [finding('acl-read-all', 'ok', `No rule in ${path} lets every client read #`, '')];
  return everyone.map((r) =>
    finding('acl-read-all', 'warning', `${path}:${r.source.line} lets ${r.kind === 'pattern' ? 'every client' : 'anonymous clients'} read every topic`,
      `"${r.kind} ${r.access} #" grants read access to all traffic${r.kind === 'pattern' ? ', whoever logs in' : ' to clients without a username'}.`,
      `replace line ${r.source.line} of ${path} with: ${r.kind} ${r.access} ${r.kind === 'pattern' ? 'clients/%u/#' : 'public/#'}`),
  );
}

/** Descriptors the broker needs besides client sockets: listeners, log and store files, DNS. */
const DESCRIPTOR_RESERVE = 64;

/** The soft "Max open files" of this process (Linux /proc), or undefined where it cannot be read. */
async function openFileLimit(): Promise<number | undefined> {
  try {
    const limits = await readFile('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
    return soft === undefined ? undefined : soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
  } catch {
    return undefined;
  }
}

/**
 * Every client socket is a file descriptor: a max_connections above the open-file limit is no limit
 * at all, clients past it fail with EMFILE (a refused or hung connect, nothing in MQTT's terms).
 */
function descriptorHeadroom(config: BrokerConfig, openFiles: number | undefined): Finding {
  const limits = config.listeners.map((l) => l.maxConnections);
  const total = limits.includes(-1) ? undefined : limits.reduce((sum, n) => sum + n, 0);
  if (openFiles === undefined) return finding('open-files', 'info', 'The open-file limit could not be read here', 'Check it on the broker machine: ulimit -n must exceed the sum of max_connections plus a reserve.');
  const raise = `ulimit -n 65535 (systemd: LimitNOFILE=65535 in the broker's unit; /etc/security/limits.conf: moat soft nofile 65535)`;
  if (total === undefined) {
    return finding('open-files', 'warning', `Only the open-file limit (${openFiles}) bounds connections`,
      `With max_connections -1, connections past about ${Math.max(0, openFiles - DESCRIPTOR_RESERVE)} fail with EMFILE instead of a clear refusal.`, 'max_connections 10000');
  }
  if (total + DESCRIPTOR_RESERVE > openFiles) {
    return finding('open-files', 'warning', `max_connections (${total} in all) is above the open-file limit (${openFiles})`,
      `Each client needs a file descriptor: clients past about ${Math.max(0, openFiles - DESCRIPTOR_RESERVE)} fail with EMFILE before max_connections refuses them. (Limit of this shell; the broker's service may get another.)`, raise);
  }
  return finding('open-files', 'ok', `The open-file limit (${openFiles}) leaves room for max_connections (${total}) and the broker's own files`, '');
}

function limits(config: BrokerConfig): Finding[] {
  const out: Finding[] = [];
  const unlimited = config.listeners.filter((l) => l.maxConnections === -1);
  out.push(unlimited.length > 0
    ? finding('max-connections', 'warning', `No connection limit on ${unlimited.map(describeListener).join(', ')}`,
      'max_connections is -1 (unlimited): a connection flood exhausts memory and file descriptors before anything else stops it.',
      'max_connections 10000')
    : finding('max-connections', 'ok', 'Every listener has a connection limit', config.listeners.map((l) => `${describeListener(l)}: ${l.maxConnections}`).join(', ')));
  out.push(config.maxQueuedMessages === 0
    ? finding('max-queued-messages', 'warning', 'No limit on messages queued per client', 'max_queued_messages 0: one slow or offline subscriber can make the broker queue without bound.', 'max_queued_messages 1000')
    : finding('max-queued-messages', 'ok', `max_queued_messages ${config.maxQueuedMessages}`, ''));
  out.push(config.maxPacketSize === 0
    ? finding('max-packet-size', 'warning', 'No packet size limit', 'max_packet_size 0: a client may send packets of up to 256 MB, which the broker buffers whole.', 'max_packet_size 1048576')
    : finding('max-packet-size', 'ok', `max_packet_size ${config.maxPacketSize}`, ''));
  out.push(config.messageSizeLimit === 0
    ? finding('message-size-limit', 'info', 'No payload size limit', config.maxPacketSize === 0 ? 'message_size_limit 0 and max_packet_size 0: payloads up to 256 MB are accepted.' : `message_size_limit 0: payloads are bounded by max_packet_size ${config.maxPacketSize} only.`, 'message_size_limit 262144')
    : finding('message-size-limit', 'ok', `message_size_limit ${config.messageSizeLimit}`, ''));
  out.push(config.authFailureLimit === 0
    ? finding('auth-failure-limit', 'warning', 'Failed logins are never banned', 'auth_failure_limit 0: a client may guess passwords as fast as the broker answers.', 'auth_failure_limit 5')
    : finding('auth-failure-limit', 'ok', `Logins are banned for ${config.authBanTime} s after ${config.authFailureLimit} failures`, ''));
  return out;
}

/**
 * Where acknowledged messages are kept: memory only is worth knowing; a cluster's Redis carries
 * every message, session and will, so off this machine it needs TLS and a password like any
 * listener.
 */
function durability(config: BrokerConfig): Finding[] {
  if (config.clusterRedis !== undefined) {
    const target = parseRedisUrl(config.clusterRedis);
    const where = `cluster_redis ${target.display}`;
    const local = target.hosts.every((h) => isLoopbackHost(h.host));
    if (local) return [finding('cluster-redis', 'ok', 'The cluster shares a Redis on this machine', `${where}: messages and sessions between the nodes stay on loopback.`)];
    const missing = [...(target.tls ? [] : ['TLS']), ...(target.password === undefined ? ['a password'] : [])];
    if (missing.length === 0) return [finding('cluster-redis', 'ok', 'The cluster reaches Redis over TLS with a password', `${where}.`)];
    return [
      finding(
        'cluster-redis',
        'warning',
        `The cluster's Redis is reached without ${missing.join(' or ')}`,
        `${where} is off this machine: every message, session and will of the cluster crosses the network ${target.tls ? '' : 'in clear '}${target.password === undefined ? 'to a Redis anyone who reaches it may read and write' : ''}`.trim() + '.',
        'cluster_redis rediss://moat:PASSWORD@redis.internal:6380',
      ),
    ];
  }
  if (!config.persistence) return [finding('persistence', 'info', 'Acknowledged messages are kept in memory only', 'persistence false: a restart or a crash loses retained messages, persistent sessions and their queued messages (docs/DURABILITY.md).', 'remove "persistence false" (moat is durable by default)')];
  return [finding('persistence', 'ok', 'Acknowledged messages survive a crash', 'persistence is on: QoS 1/2 messages are committed before they are acknowledged (docs/DURABILITY.md).')];
}

/** The admin HTTP listener (/metrics and the JSON API), when the config has one. */
function adminListener(config: BrokerConfig): Finding[] {
  const admin = config.admin;
  if (admin === undefined) return [];
  const where = `admin_listener ${admin.port} ${admin.host} (${admin.source.file}:${admin.source.line})`;
  const token = admin.token !== undefined || admin.tokenFile !== undefined;
  if (isLoopbackHost(admin.host)) {
    return [token
      ? finding('admin-listener', 'ok', 'The admin listener is on loopback and needs a token', `${where}: /metrics and the JSON API answer this machine only, with the token.`)
      : finding('admin-listener', 'info', 'The admin listener is open to this machine', `${where} has no admin_token: any local user or process can list clients and disconnect them (web pages cannot: requests with an Origin header are refused).`, 'admin_token_file /etc/moat/admin.token')];
  }
  // Off loopback the config is refused without a token, so only the transport is left to check.
  return [admin.tls === undefined
    ? finding('admin-listener', 'warning', 'The admin token crosses the network in clear', `${where} serves plain HTTP on a non-loopback address: the bearer token and the client list can be read on the way.`, 'admin_certfile /etc/moat/admin.crt and admin_keyfile /etc/moat/admin.key')
    : finding('admin-listener', 'ok', 'The admin listener needs a token and speaks HTTPS', `${where}.`)];
}

function monitoring(config: BrokerConfig): Finding[] {
  return [config.sysInterval === 0
    ? finding('sys-interval', 'warning', '$SYS statistics are off', 'sys_interval 0: no $SYS/broker/... topics, so monitoring cannot see client counts, load or dropped messages.', 'sys_interval 10')
    : finding('sys-interval', 'ok', `$SYS statistics every ${config.sysInterval} s`, 'Restrict who may read $SYS/# in the ACL file.')];
}
