// Starts the three brokers the comparison run measures, one at a time, on free loopback ports,
// each with the open-file limit raised to the hard limit (10,000 idle connections need it).
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TlsFiles } from '../test/kit/certs.js';
import { freePort } from '../test/kit/ports.js';
import { repoRoot } from '../test/kit/paths.js';
import { spawnTracked, type TrackedProcess } from '../test/kit/process.js';

export const BROKERS = ['moat', 'mosquitto', 'aedes'] as const;
/**
 * `node-floor` (bench/floor-server.mjs) is not a broker: a bare net.createServer that answers any
 * bytes with one CONNACK and holds the socket. It runs only in idle-connections, to show what Node
 * itself costs per idle socket, i.e. the least a Node broker can spend.
 */
export type BrokerName = (typeof BROKERS)[number] | 'node-floor' | (typeof PERSISTENCE_VARIANTS)[number];
/**
 * Not in the default run: moat with `persistence false` (memory only, as moat was before issue 13)
 * and Mosquitto with `persistence true` (its autosave snapshots, autosave_interval 1800 s).
 * `moat` itself runs durable, as shipped.
 */
export const PERSISTENCE_VARIANTS = ['moat-memory', 'mosquitto-persist'] as const;
export const MOSQUITTO = '/usr/sbin/mosquitto';

export type { TlsFiles } from '../test/kit/certs.js';

export interface Started {
  name: BrokerName;
  pid: number;
  url: string;
  tlsUrl: string | undefined;
  stop(): Promise<void>;
  logs(): string;
}

/**
 * The config moat and Mosquitto share (both read mosquitto.conf): loopback only, anonymous, Nagle
 * off, the same queue limit, no $SYS, quiet logs. `defaultLimits` keeps each broker's own default
 * queue limits (1,000 messages for both), as the unpaced scenarios are judged at default settings.
 */
export function sharedConfig(port: number, tls?: { port: number; files: TlsFiles; clientCertificates?: boolean }, defaultLimits = false, unlimitedConnections = false): string {
  const lines = [
    `listener ${port} 127.0.0.1`,
    // Both brokers' default, said out loud where the scenario depends on it (idle-connections).
    ...(unlimitedConnections ? ['max_connections -1'] : []),
    'allow_anonymous true',
    'set_tcp_nodelay true',
    ...(defaultLimits ? [] : ['max_queued_messages 10000']),
    'sys_interval 0',
    'connection_messages false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
  ];
  if (tls !== undefined) lines.push(`listener ${tls.port} 127.0.0.1`, `certfile ${tls.files.cert}`, `keyfile ${tls.files.key}`);
  // Every client presents a certificate from the same CA, as a fleet of devices does.
  if (tls?.clientCertificates === true) lines.push(`cafile ${tls.files.ca}`, 'require_certificate true', 'use_identity_as_username true');
  return `${lines.join('\n')}\n`;
}

/** Node flags the project's own `npm start` gives moat (e.g. GC tuning), so moat runs as shipped. */
function moatNodeFlags(): string[] {
  try {
    const start = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts?.['start'] ?? '';
    const m = /\bnode\s+((?:--\S+\s+)*)build\/src\/cli\/index\.js/.exec(start);
    return m?.[1] !== undefined ? m[1].trim().split(/\s+/).filter((f) => f !== '') : [];
  } catch {
    return [];
  }
}

function hardFileLimit(): number | undefined {
  try {
    const m = /Max open files\s+\d+\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m?.[1] !== undefined ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** `prlimit --nofile=H:H cmd ...` execs cmd, so the PID we get is the broker's own. */
function withFileLimit(command: string, args: string[]): [string, string[]] {
  const hard = hardFileLimit();
  if (hard === undefined || !existsSync('/usr/bin/prlimit')) return [command, args];
  const n = Math.min(hard, 1_048_576);
  return ['/usr/bin/prlimit', [`--nofile=${n}:${n}`, command, ...args]];
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.setTimeout(500);
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.once('timeout', () => done(false));
  });
}

async function waitForPorts(child: TrackedProcess, ports: number[], name: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (const port of ports) {
    for (;;) {
      if (child.exitResult !== undefined) throw new Error(`${name} exited at start:\n${child.formatLogs(20)}`);
      if (await canConnect(port)) break;
      if (Date.now() > deadline) {
        await child.kill();
        throw new Error(`${name} did not listen on ${port} within 15 s:\n${child.formatLogs(20)}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  // A broker that bound but then died (e.g. a bad TLS option) must not look ready.
  await new Promise((r) => setTimeout(r, 50));
  if (child.exitResult !== undefined) throw new Error(`${name} exited at start:\n${child.formatLogs(20)}`);
}

/**
 * `clientCertificates`: the TLS listener requires a client certificate (moat and Mosquitto only).
 * `unlimitedConnections`: `max_connections -1` on the listener (idle-connections).
 */
export async function startBroker(name: BrokerName, tlsFiles?: TlsFiles, defaultLimits = false, clientCertificates = false, unlimitedConnections = false): Promise<Started> {
  if (clientCertificates && name === 'aedes') throw new Error('bench/aedes-server.mjs has no client-certificate listener');
  const port = await freePort();
  const tlsPort = tlsFiles !== undefined ? await freePort() : undefined;
  const dir = await mkdtemp(join(tmpdir(), `moat-bench-${name}-`));
  let command: string;
  let args: string[];
  if (name === 'node-floor') {
    if (tlsFiles !== undefined) throw new Error('bench/floor-server.mjs has no TLS listener');
    command = process.execPath;
    args = [...moatNodeFlags(), join(repoRoot, 'bench', 'floor-server.mjs'), String(port)];
  } else if (name === 'aedes') {
    command = process.execPath;
    args = [join(repoRoot, 'bench', 'aedes-server.mjs'), String(port)];
    if (tlsFiles !== undefined && tlsPort !== undefined) args.push('--tls', String(tlsPort), tlsFiles.cert, tlsFiles.key);
  } else {
    const conf = join(dir, `${name}.conf`);
    const isMoat = name === 'moat' || name === 'moat-memory';
    // A fresh persistence file per start; Mosquitto drops from root to its own user, so its directory must be open to it.
    const state = join(dir, 'state');
    await mkdir(state, { mode: 0o777 });
    await chmod(state, 0o777);
    const persistence = name === 'moat' ? `persistence_location ${state}\n` : name === 'moat-memory' ? 'persistence false\n' : name === 'mosquitto-persist' ? `persistence true\npersistence_location ${state}/\n` : '';
    await writeFile(conf, sharedConfig(port, tlsFiles !== undefined && tlsPort !== undefined ? { port: tlsPort, files: tlsFiles, clientCertificates } : undefined, defaultLimits, unlimitedConnections) + persistence);
    command = isMoat ? process.execPath : MOSQUITTO;
    args = isMoat ? [...moatNodeFlags(), join(repoRoot, 'build', 'src', 'cli', 'index.js'), 'broker', '-c', conf] : ['-c', conf];
  }
  const [cmd, argv] = withFileLimit(command, args);
  const child = await spawnTracked(cmd, argv, { name, cwd: repoRoot });
  child.onExit(() => void rm(dir, { recursive: true, force: true }).catch(() => undefined));
  try {
    await waitForPorts(child, tlsPort !== undefined ? [port, tlsPort] : [port], name);
  } catch (error) {
    await child.kill();
    throw error;
  }
  return {
    name,
    pid: child.pid,
    url: `mqtt://127.0.0.1:${port}`,
    tlsUrl: tlsPort !== undefined ? `mqtts://127.0.0.1:${tlsPort}` : undefined,
    async stop() {
      await child.stop('SIGTERM', 3000);
    },
    logs: () => child.formatLogs(30),
  };
}
