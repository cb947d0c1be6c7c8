import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { NODE_FLAGS } from '../../src/cli/node-flags.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningBroker } from './broker.js';
import { repoRoot, runningFromBuild } from './paths.js';
import { spawnTracked } from './process.js';
import './state-dir.js';

export const DEFAULT_MOAT_CONFIG = 'listener 0 127.0.0.1\nallow_anonymous true\n';

export interface StartMoatOptions {
  /** mosquitto.conf text; default `listener 0 127.0.0.1` + `allow_anonymous true`. Port 0 = pick a free port. */
  readonly config?: string;
  /** Extra arguments after `broker -c FILE`. */
  readonly args?: readonly string[];
  /** Added to (and overriding) the test process's environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** How long to wait for the "listening" line; default 10 000 ms. */
  readonly timeoutMs?: number;
}

/** One `"event":"listening"` log line of moat. */
export interface MoatListener {
  readonly host: string;
  readonly port: number;
  readonly protocol: string;
}

export interface RunningMoat extends RunningBroker {
  /** Every listener announced so far (the first "mqtt" one is host/port). */
  readonly listeners: MoatListener[];
}

function parseListening(line: string): MoatListener | undefined {
  if (!line.includes('"listening"')) return undefined;
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof record !== 'object' || record === null) return undefined;
  const r = record as Record<string, unknown>;
  if (r['event'] !== 'listening' || typeof r['port'] !== 'number') return undefined;
  return {
    host: typeof r['host'] === 'string' ? r['host'] : '127.0.0.1',
    port: r['port'],
    protocol: typeof r['protocol'] === 'string' ? r['protocol'] : 'mqtt',
  };
}

/**
 * The listener of `protocol` ("admin-http", "admin-https", "mqtts", ...) once moat has logged its
 * "listening" line: the port a test learns when the config says port 0.
 */
export async function moatListener(moat: RunningMoat, protocol: string, timeoutMs = 10_000): Promise<MoatListener> {
  const line = await moat.process.waitForLine((l) => parseListening(l)?.protocol === protocol, timeoutMs, `a {"event":"listening","protocol":"${protocol}"} log line`);
  return parseListening(line) as MoatListener;
}

/** The command line that runs moat's CLI: built JS when the kit runs from build/, tsx otherwise. */
export function moatCommand(cliArgs: readonly string[]): { command: string; args: string[] } {
  const entry = runningFromBuild
    ? [join(repoRoot, 'build', 'src', 'cli', 'index.js')]
    : ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'index.ts')];
  return { command: process.execPath, args: [...NODE_FLAGS, ...entry, ...cliArgs] };
}

/**
 * Starts `moat broker -c <temp file>` and resolves once it logs a `"event":"listening"` line with
 * `"protocol"` (mqtt or mqtts). Rejects after timeoutMs (default 10 s), or if it exits first, with its logs.
 * Call `stop()` in `after`/`t.after`; the kit also kills it if the test process exits.
 */
export async function startMoat(options: StartMoatOptions = {}): Promise<RunningMoat> {
  const dir = await mkdtemp(join(tmpdir(), 'moat-test-'));
  const configPath = join(dir, 'moat.conf');
  await writeFile(configPath, options.config ?? DEFAULT_MOAT_CONFIG);
  const { command, args } = moatCommand(['broker', '-c', configPath, ...(options.args ?? [])]);
  // Its own state directory: its default persistence file is its own, and goes with the temporary directory.
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_STATE_HOME: dir };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const child = await spawnTracked(command, args, { name: 'moat', cwd: repoRoot, env });
  child.onExit(() => void rm(dir, { recursive: true, force: true }).catch(() => undefined));

  const listeners: MoatListener[] = [];
  // Same tick: lines already captured, then every later one (no gap, no duplicate).
  for (const line of child.logs) {
    const listener = parseListening(line);
    if (listener) listeners.push(listener);
  }
  child.onLine((line) => {
    const listener = parseListening(line);
    if (listener) listeners.push(listener);
  });

  let first: MoatListener;
  try {
    const line = await child.waitForLine(
      (l) => parseListening(l) !== undefined,
      options.timeoutMs ?? 10_000,
      'a {"event":"listening","protocol":"mqtt"} log line',
    );
    first = parseListening(line) as MoatListener;
  } catch (err) {
    await child.kill();
    throw err;
  }

  return {
    name: 'moat',
    host: first.host,
    port: first.port,
    pid: child.pid,
    url: `mqtt://${first.host}:${first.port}`,
    logs: child.logs,
    configPath,
    process: child,
    listeners,
    async stop(signal) {
      return (await child.stop(signal)).code;
    },
    async kill() {
      return (await child.kill()).code;
    },
  };
}
