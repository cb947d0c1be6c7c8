// `npm run bench`: moat, Mosquitto and Aedes, one at a time on free loopback ports, each scenario
// several rounds with the broker order rotating per round, every run against a fresh broker. Writes
// bench/RESULTS.md. Flags: --rounds N, --quick (1 round, short runs), --only fanin,latency,
// --brokers moat,mosquitto, --key-types ec,rsa and --client-certs no,yes (tls-connect: one run per
// key type, server-authenticated and with every client presenting a certificate of that type, all
// from moat certs), --out FILE.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { barProgress, formatResult, headline, runBench, SCENARIOS, silentProgress, type BenchOptions } from '../src/bench/index.js';
import { repoRoot } from '../test/kit/paths.js';
import { generateCerts, KEY_TYPE_LABELS, type KeyType } from '../src/certs/generate.js';
import { parseKeyType } from '../src/certs/keys.js';
import { BROKERS, MOSQUITTO, PERSISTENCE_VARIANTS, startBroker, type BrokerName, type TlsFiles } from './brokers.js';
import { renderResults, type Sample } from './results.js';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(
    [
      'npm run bench -- [options]   (node build/bench/run.js [options])',
      `  --only a,b          scenarios (default all): ${SCENARIOS.join(', ')}`,
      `  --brokers a,b       default ${BROKERS.join(',')}; idle-connections also takes node-floor (a bare net.createServer: Node's own cost per socket)`,
      '  --rounds N          rounds per scenario × protocol × broker (default 3, 1 with --quick)',
      '  --quick             short runs, small counts',
      '  --connections N     idle-connections: connections held (default 19000)',
      '  --persistent-subscribers  throughput scenarios with persistent subscriber sessions (a durable broker writes them)',
      `                      more brokers: ${PERSISTENCE_VARIANTS.join(', ')} (moat memory-only, Mosquitto persistence true)`,
      '  --key-types ec,rsa  --client-certs no,yes   tls-connect variants',
      '  --out FILE          default bench/RESULTS.md',
      '  --verbose           print every result in full',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const quick = process.argv.includes('--quick');
/** Throughput scenarios with persistent subscriber sessions: what a durable broker writes per message. */
const persistentSubscribers = process.argv.includes('--persistent-subscribers');
const rounds = Number(flag('rounds') ?? (quick ? 1 : 3));
const only = flag('only')?.split(',') ?? [...SCENARIOS];
const brokers = (flag('brokers')?.split(',') ?? [...BROKERS]) as BrokerName[];
const out = flag('out') ?? join(repoRoot, 'bench', 'RESULTS.md');
for (const b of brokers) if (![...BROKERS, ...PERSISTENCE_VARIANTS, 'node-floor'].includes(b)) throw new Error(`--brokers: unknown broker ${b} (${[...BROKERS, ...PERSISTENCE_VARIANTS].join(', ')}, node-floor)`);
for (const s of only) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--only: unknown scenario ${s}`);
const keyTypes = (flag('key-types') ?? 'ec,rsa').split(',').map((word) => {
  const type = parseKeyType(word);
  if (type === undefined) throw new Error(`--key-types: unknown key type ${word} (ec, rsa)`);
  return type;
});
const clientCertModes = (flag('client-certs') ?? 'no,yes').split(',').map((word) => {
  if (word !== 'no' && word !== 'yes') throw new Error(`--client-certs: ${word} is not no or yes`);
  return word === 'yes';
});

/** Per-scenario settings for the comparison: short enough that each run stays well under 30 s. */
function settingsFor(scenario: string): BenchOptions {
  const q = quick;
  switch (scenario) {
    case 'connections':
      return { connections: q ? 2000 : 10_000, hold: q ? 1 : 2 };
    case 'idle-connections':
      // 19,000 even in quick mode: the count is the point; the probe (duration / 2 per QoS) is shorter.
      // Held 20 s: RSS is read at 2 s and at 20 s, after V8's memory reducer has compacted the heap.
      return { connections: Number(flag('connections') ?? 19_000), hold: 20, duration: q ? 2 : 4 };
    case 'retained':
      return { retained: q ? 20_000 : 100_000, cleanup: false };
    case 'tls-connect':
      return { duration: q ? 2 : 6, handshakes: q ? 100 : 300 };
    case 'latency':
      // Steady state: a fresh process (moat's JIT, Mosquitto's allocator) settles in the first seconds.
      return { duration: q ? 2 : 5, warmup: q ? 1 : 3 };
    case 'fanin-unpaced':
    case 'fanout-unpaced':
    case 'qos1-unpaced':
      return { duration: q ? 2 : 4, warmup: q ? 0.5 : 1 };
    case 'abuse':
      // Three floods in turn, each with its own warm-up and hold: keep each short.
      return { duration: q ? 2 : 3, warmup: q ? 0.5 : 1, hold: q ? 0.5 : 1 };
    default:
      return { duration: q ? 2 : 5, warmup: q ? 0.5 : 1 };
  }
}
/** Rough seconds per run (broker start + scenario + stop), for the estimate. */
const SECONDS: Record<string, [number, number]> = {
  fanin: [4, 8],
  fanout: [4, 8],
  qos1: [4, 8],
  'fanin-unpaced': [5, 9],
  // A slow broker's fan-out backlog can outlast the 10 s settle.
  'fanout-unpaced': [12, 18],
  'qos1-unpaced': [5, 9],
  latency: [5, 10],
  abuse: [12, 19],
  connections: [4, 8],
  'idle-connections': [45, 50],
  'tls-connect': [6, 11],
  retained: [3, 5],
};

function versions(): string[] {
  const safe = (f: () => string): string => {
    try {
      return f();
    } catch {
      return 'unknown';
    }
  };
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const aedes = JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'aedes', 'package.json'), 'utf8')) as { version: string };
  const commit = safe(() => execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot }).toString().trim());
  const dirty = safe(() => (execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot }).toString().trim() === '' ? '' : ' (uncommitted changes)'));
  // mosquitto -h prints its version on the first line and exits non-zero.
  const mosquitto = safe(() => {
    try {
      return execFileSync(MOSQUITTO, ['-h']).toString().split('\n')[0] ?? '';
    } catch (error) {
      return String((error as { stdout?: Buffer }).stdout ?? '').split('\n')[0] ?? '';
    }
  });
  return [`moat: ${pkg.version}, commit ${commit}${dirty}`, `Mosquitto: ${mosquitto} (Debian)`, `Aedes: ${aedes.version} (npm)`, `Node.js: ${process.version}`];
}

function machine(): string[] {
  const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return [`nproc: ${availableParallelism()}`, `CPU: ${model}`, `memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`];
}

/**
 * tls-connect runs once per key type and client-certificate mode; each gets a section, e.g.
 * "tls-connect (ECDSA P-256, client certificates)".
 */
interface TlsVariant {
  keyType: KeyType;
  clientCerts: boolean;
}
const plan: Array<{ scenario: string; tls?: TlsVariant; protocol: 4 | 5; round: number; broker: BrokerName }> = [];
for (const scenario of only) {
  const variants = scenario === 'tls-connect' ? keyTypes.flatMap((keyType) => clientCertModes.map((clientCerts) => ({ keyType, clientCerts }))) : [undefined];
  for (const tls of variants) {
    // idle-connections is an MQTT 3.1.1 comparison (CONNECT and CONNACK are all an idle client sends).
    for (const protocol of scenario === 'idle-connections' ? ([4] as const) : ([4, 5] as const)) {
      // Aedes speaks MQTT 3.1.1 only: it is compared over 3.1.1; its bench server has no client certificates.
      // node-floor is no broker: it only holds idle sockets.
      const these = brokers.filter((b) => (protocol === 4 || b !== 'aedes') && (tls?.clientCerts !== true || b !== 'aedes') && (b !== 'node-floor' || scenario === 'idle-connections'));
      for (let round = 1; round <= rounds; round++) {
        const shift = (round - 1) % these.length;
        for (const broker of [...these.slice(shift), ...these.slice(0, shift)]) plan.push({ scenario, ...(tls !== undefined ? { tls } : {}), protocol, round, broker });
      }
    }
  }
}
const estimate = plan.reduce((a, p) => a + (SECONDS[p.scenario]?.[quick ? 0 : 1] ?? 8), 0);
process.stderr.write(`moat bench: ${plan.length} runs, about ${Math.ceil(estimate / 60)} min (estimate)\n`);

const tlsDir = mkdtempSync(join(tmpdir(), 'moat-bench-tls-'));
const samples: Sample[] = [];
const started = Date.now();
try {
  const tlsSets = new Map<KeyType, TlsFiles & { client: { cert: string; key: string } }>();
  if (only.includes('tls-connect')) {
    // Mosquitto started as root reads its certificate files as the mosquitto user.
    chmodSync(tlsDir, 0o755);
    for (const keyType of keyTypes) {
      const made = await generateCerts({ dir: join(tlsDir, keyType), keyType, caDays: 2, days: 2, clients: ['bench-device'] });
      chmodSync(made.server.key, 0o644);
      const client = made.clients[0];
      if (client === undefined) throw new Error('moat certs made no client certificate');
      tlsSets.set(keyType, { ca: made.ca.cert, cert: made.server.cert, key: made.server.key, client });
    }
  }
  const progress = process.stderr.isTTY ? barProgress() : silentProgress;
  for (const [i, p] of plan.entries()) {
    const { tls: variant, ...rest } = p;
    const name = variant === undefined ? p.scenario : `${p.scenario} (${KEY_TYPE_LABELS[variant.keyType]}${variant.clientCerts ? ', client certificates' : ''})`;
    const label = `[${i + 1}/${plan.length}] ${name} MQTT ${p.protocol === 5 ? '5.0' : '3.1.1'} ${p.broker} round ${p.round}`;
    const sample: Sample = { ...rest, scenario: name };
    const tls = variant === undefined ? undefined : tlsSets.get(variant.keyType);
    const clientCerts = variant?.clientCerts === true;
    let broker;
    try {
      broker = await startBroker(p.broker, tls, p.scenario.endsWith('-unpaced'), clientCerts, p.scenario === 'idle-connections');
      const url = p.scenario === 'tls-connect' ? broker.tlsUrl : broker.url;
      if (url === undefined) throw new Error('no TLS listener');
      const options: BenchOptions = {
        ...settingsFor(p.scenario),
        ...(persistentSubscribers ? { persistentSubscribers } : {}),
        url,
        protocol: p.protocol,
        pid: broker.pid,
        ...(p.broker === 'node-floor' ? { probe: false } : {}),
        ...(tls !== undefined ? { cafile: tls.ca } : {}),
        ...(tls !== undefined && clientCerts ? { cert: tls.client.cert, key: tls.client.key } : {}),
      };
      sample.result = await runBench(p.scenario, options, { progress });
      const [name, v] = headline(sample.result);
      process.stderr.write(`${label}: ${name} ${Math.round(v.value).toLocaleString('en-US')} ${v.unit}, gen CPU ${Math.round(sample.result.generator.corePercent)}%\n`);
      if (process.argv.includes('--verbose') || p.scenario === 'idle-connections') process.stderr.write(formatResult(sample.result));
    } catch (error) {
      sample.error = (error as Error).message;
      process.stderr.write(`${label}: FAILED: ${sample.error.split('\n').slice(0, 3).join(' / ')}\n`);
    } finally {
      await broker?.stop();
    }
    samples.push(sample);
  }
} finally {
  rmSync(tlsDir, { recursive: true, force: true });
}

const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const settings = `Runs: ${rounds} round(s) per scenario × protocol × broker, broker order rotating each round, a fresh broker per run; ${quick ? 'quick mode (short runs, small counts)' : 'full mode'}; total ${Math.round((Date.now() - started) / 1000)} s. moat and Mosquitto share one mosquitto.conf (listener on 127.0.0.1, allow_anonymous true, set_tcp_nodelay true, max_queued_messages 10000 (the unpaced scenarios keep both brokers' default, 1,000), sys_interval 0, in-memory); Aedes runs bench/aedes-server.mjs (in-memory, Nagle off). tls-connect: certificates from \`moat certs\` (server and client of the key type named in each section); "client certificates" sections add cafile, require_certificate true and use_identity_as_username true to the TLS listener and every connection presents one (Aedes not run there).`;
writeFileSync(out, renderResults({ command, date: new Date().toISOString(), machine: machine(), versions: versions(), settings }, samples, brokers));
process.stderr.write(`moat bench: wrote ${out}\n`);
