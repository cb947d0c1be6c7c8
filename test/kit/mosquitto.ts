import { connect } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningBroker } from './broker.js';
import { freePort } from './ports.js';
import { spawnTracked, type TrackedProcess } from './process.js';

export const MOSQUITTO_BINARY = '/usr/sbin/mosquitto';

export interface StartMosquittoOptions {
  /** Extra mosquitto.conf lines, added after `listener <port> 127.0.0.1` and `allow_anonymous true`. */
  readonly config?: string;
  /** How long to wait for the port to accept connections, per attempt; default 10 000 ms. */
  readonly timeoutMs?: number;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(500);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until host:port accepts TCP; 'exited' if the process died first; 'timeout' otherwise. */
async function waitForPort(child: TrackedProcess, host: string, port: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitResult !== undefined) return 'exited' as const;
    if (await canConnect(host, port)) {
      // The port might belong to someone else if our bind failed; make sure mosquitto is still alive.
      await sleep(20);
      return child.exitResult === undefined ? ('ready' as const) : ('exited' as const);
    }
    await sleep(25);
  }
  return 'timeout' as const;
}

/**
 * Starts Debian's Mosquitto on a free 127.0.0.1 port (anonymous allowed), retrying with another port
 * if the bind fails. Resolves once the port accepts TCP connections. Stop it with `stop()`.
 */
export async function startMosquitto(options: StartMosquittoOptions = {}): Promise<RunningBroker> {
  const host = '127.0.0.1';
  const timeoutMs = options.timeoutMs ?? 10_000;
  const failures: string[] = [];
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await freePort(host);
    const dir = await mkdtemp(join(tmpdir(), 'moat-mosquitto-'));
    const configPath = join(dir, 'mosquitto.conf');
    const config = [
      `listener ${port} ${host}`,
      'allow_anonymous true',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      options.config ?? '',
      '',
    ].join('\n');
    await writeFile(configPath, config);
    const child = await spawnTracked(MOSQUITTO_BINARY, ['-c', configPath], { name: 'mosquitto' });
    child.onExit(() => void rm(dir, { recursive: true, force: true }).catch(() => undefined));

    const state = await waitForPort(child, host, port, timeoutMs);
    if (state === 'ready') {
      return {
        name: 'mosquitto',
        host,
        port,
        pid: child.pid,
        url: `mqtt://${host}:${port}`,
        logs: child.logs,
        configPath,
        process: child,
        async stop(signal) {
          return (await child.stop(signal)).code;
        },
        async kill() {
          return (await child.kill()).code;
        },
      };
    }
    await child.kill();
    failures.push(`attempt ${attempt} on port ${port}: ${state}\n${child.formatLogs(50)}`);
    const bindFailed = child.logs.some((l) => /address already in use|error: .*(bind|listen)/i.test(l));
    if (state === 'timeout' || !bindFailed) break;
  }
  throw new Error(`could not start mosquitto:\n${failures.join('\n')}`);
}
