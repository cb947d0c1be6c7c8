// Debian's redis-server for the Redis store, bus and cluster tests: on a free 127.0.0.1 port, no
// snapshots (`--save ''`), no append-only file, its files in a temporary directory; stopped by PID.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { spawnTracked, type ExitResult, type TrackedProcess } from './process.js';

export const REDIS_BINARY = '/usr/bin/redis-server';

export interface RunningRedis {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  readonly process: TrackedProcess;
  /** SIGKILL (a crash of Redis); `start` again on the same port brings an empty Redis back. */
  kill(): Promise<ExitResult>;
  stop(): Promise<ExitResult>;
}

export interface StartRedisOptions {
  /** Start on this port (a restart after kill()); default a free one, retried if taken. */
  readonly port?: number;
  /** Extra arguments, e.g. ['--requirepass', 'secret']. */
  readonly args?: readonly string[];
}

/** Starts redis-server and resolves once it says it accepts connections. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RunningRedis> {
  const host = '127.0.0.1';
  const failures: string[] = [];
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = options.port ?? (await freePort(host));
    const dir = await mkdtemp(join(tmpdir(), 'moat-redis-'));
    const args = ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', ...(options.args ?? [])];
    const child = await spawnTracked(REDIS_BINARY, args, { name: 'redis-server' });
    child.onExit(() => void rm(dir, { recursive: true, force: true }).catch(() => undefined));
    try {
      await child.waitForLine((line) => line.includes('Ready to accept connections'), 10_000, `redis-server on port ${port} ready`);
      return {
        host,
        port,
        url: `redis://${host}:${port}`,
        process: child,
        kill: () => child.kill(),
        stop: () => child.stop('SIGTERM'),
      };
    } catch (error) {
      failures.push(`attempt ${attempt} (port ${port}): ${error instanceof Error ? error.message : String(error)}`);
      await child.kill();
      if (options.port !== undefined) break;
    }
  }
  throw new Error(`startRedis: redis-server did not start:\n${failures.join('\n')}`);
}
