// moat's cluster options (issue 13): `cluster_redis URL` makes this broker one node of a cluster
// sharing that Redis (sessions, queues and retained messages in the Redis store, fan-out on the
// Redis bus), instead of the SQLite persistence file; `cluster_prefix` keeps several clusters apart
// on one Redis. The URL is read here with the same parser the connections use, so a bad one is a
// config error at file:line, not a failure at start.
import { MoatError } from '../codec/errors.js';
import { parseRedisUrl } from '../cluster/redis-url.js';
import { CONFIG_ISSUE_KINDS } from './errors.js';
import { fixFor, global, single, type OptionContext, type OptionSpec } from './option-kit.js';

const EXAMPLE_URL = 'redis://127.0.0.1:6379';

function redisUrl(ctx: OptionContext): string | undefined {
  const url = single(ctx, EXAMPLE_URL);
  if (url === undefined) return undefined;
  try {
    parseRedisUrl(url);
    return url;
  } catch (error) {
    if (!(error instanceof MoatError)) throw error;
    // parseRedisUrl says what is wrong, then "; write …" with the forms it reads: that part is the fix.
    const at = error.message.indexOf('; write ');
    const [what, fix] = at < 0 ? [error.message, fixFor(ctx, EXAMPLE_URL)] : [error.message.slice(0, at), error.message.slice(at + 2)];
    ctx.error(CONFIG_ISSUE_KINDS.invalidValue, `cluster_redis: ${what}`, fix);
    return undefined;
  }
}

function prefix(ctx: OptionContext): string | undefined {
  const value = single(ctx, 'moat:');
  if (value === undefined) return undefined;
  // The Redis store puts each session's keys in the client id's hash tag: a brace here would take its place.
  if (/[{}]/.test(value)) {
    ctx.error(CONFIG_ISSUE_KINDS.invalidValue, `cluster_prefix must not contain "{" or "}", got "${value}"`, fixFor(ctx, 'plant1:'));
    return undefined;
  }
  return value;
}

export const CLUSTER_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  cluster_redis: { scope: 'global', example: EXAMPLE_URL, apply: global('clusterRedis', redisUrl) },
  cluster_prefix: { scope: 'global', example: 'moat:', apply: global('clusterPrefix', prefix) },
};
