// A `cluster_redis` / `--cluster` URL read into a RedisTarget, without ioredis: the config parser
// checks the URL with it, and loading a config must not load a Redis client.
//   redis://[user:password@]host[:port][/db]     rediss://…  (TLS)
//   redis+sentinel://[user:password@]host:port[,host:port…]/MASTER_NAME[/db]   (rediss+sentinel: TLS)
//   redis+cluster://[user:password@]host:port[,host:port…]                     (rediss+cluster: TLS)
import { MoatError } from '../codec/errors.js';

export interface RedisTarget {
  readonly kind: 'single' | 'sentinel' | 'cluster';
  readonly tls: boolean;
  /** host:port pairs (sentinels or cluster seed nodes; one for single). */
  readonly hosts: ReadonlyArray<{ readonly host: string; readonly port: number }>;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly db: number;
  /** The sentinel master name. */
  readonly name: string | undefined;
  /** The URL as given, without its password: for logs. */
  readonly display: string;
}

const SCHEMES: Record<string, { kind: RedisTarget['kind']; tls: boolean; port: number }> = {
  'redis:': { kind: 'single', tls: false, port: 6379 },
  'rediss:': { kind: 'single', tls: true, port: 6379 },
  'redis+sentinel:': { kind: 'sentinel', tls: false, port: 26379 },
  'rediss+sentinel:': { kind: 'sentinel', tls: true, port: 26379 },
  'redis+cluster:': { kind: 'cluster', tls: false, port: 6379 },
  'rediss+cluster:': { kind: 'cluster', tls: true, port: 6379 },
};

function urlError(url: string, why: string): MoatError {
  return new MoatError('MOAT_ERR_REDIS_URL', `cluster URL ${JSON.stringify(url)}: ${why}; write redis://host:6379, rediss://user:password@host:6380, redis+sentinel://host:26379,host2:26379/mymaster or redis+cluster://host:7000,host2:7001`);
}

/** Reads a Redis URL in the forms above; throws MOAT_ERR_REDIS_URL naming what is wrong. */
export function parseRedisUrl(url: string): RedisTarget {
  const match = /^([a-z+]+:)\/\/(?:([^@/]*)@)?([^/?#]*)(\/[^?#]*)?$/i.exec(url.trim());
  if (match === null) throw urlError(url, 'not a URL');
  const [, rawScheme = '', auth, hostList = '', path = ''] = match;
  const scheme = SCHEMES[rawScheme.toLowerCase()];
  if (scheme === undefined) throw urlError(url, `unknown scheme ${rawScheme}`);
  let username: string | undefined;
  let password: string | undefined;
  if (auth !== undefined && auth !== '') {
    const colon = auth.indexOf(':');
    const user = colon < 0 ? auth : auth.slice(0, colon);
    username = user === '' ? undefined : decodeURIComponent(user);
    password = colon < 0 ? undefined : decodeURIComponent(auth.slice(colon + 1));
    // redis://secret@host: the one field is the password (as ioredis and redis-cli read it).
    if (colon < 0) [username, password] = [undefined, username];
  }
  const hosts = hostList.split(',').map((entry) => {
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    const [host, port] = bracketed !== null ? [bracketed[1] ?? '', bracketed[2]] : [entry.replace(/:\d+$/, ''), /:(\d+)$/.exec(entry)?.[1]];
    const number = port === undefined ? scheme.port : Number(port);
    if (host === '') throw urlError(url, 'a host is missing');
    if (!Number.isInteger(number) || number < 1 || number > 65535) throw urlError(url, `port ${port ?? ''} is not 1-65535`);
    return { host, port: number };
  });
  if (scheme.kind === 'single' && hosts.length > 1) throw urlError(url, 'several hosts need redis+sentinel:// or redis+cluster://');
  const segments = path.split('/').filter((s) => s !== '');
  let name: string | undefined;
  if (scheme.kind === 'sentinel') {
    name = segments.shift();
    if (name === undefined) throw urlError(url, 'a sentinel URL ends with /MASTER_NAME');
    name = decodeURIComponent(name);
  }
  const dbText = segments.shift();
  const db = dbText === undefined ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw urlError(url, `database ${dbText ?? ''} is not a number`);
  if (scheme.kind === 'cluster' && db !== 0) throw urlError(url, 'Redis Cluster has only database 0');
  if (segments.length > 0) throw urlError(url, `unexpected path /${segments.join('/')}`);
  const display = auth === undefined || auth === '' ? url : url.replace(`${auth}@`, username === undefined ? '***@' : `${encodeURIComponent(username)}:***@`);
  return { kind: scheme.kind, tls: scheme.tls, hosts, username, password, db, name, display };
}
