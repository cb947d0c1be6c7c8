// `moat bench` options: what a caller passes (BenchOptions), per-scenario defaults, and the fully
// resolved, validated form the scenarios read. One error names the bad option.
import { readFileSync } from 'node:fs';
import { MoatError } from '../codec/errors.js';
import { parseTarget, type Target } from './lean-client.js';

export const SCENARIOS = ['fanin', 'fanout', 'qos1', 'fanin-unpaced', 'fanout-unpaced', 'qos1-unpaced', 'latency', 'abuse', 'connections', 'idle-connections', 'tls-connect', 'retained'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** The throughput scenarios and their unpaced variants (`unpaced: true` picks the variant). */
const UNPACED = { fanin: 'fanin-unpaced', fanout: 'fanout-unpaced', qos1: 'qos1-unpaced' } as const;

/** What the abuse scenario's hostile client floods the broker with. */
export const FLOODS = ['pingreq', 'publish', 'resubscribe'] as const;
export type FloodKind = (typeof FLOODS)[number];

export interface BenchOptions {
  url?: string;
  /**
   * fanin, fanout, qos1: publishers connect to these in turn (publisher i to URL i mod n), e.g. the
   * nodes of a cluster; default the one url.
   */
  publisherUrls?: readonly string[];
  /** fanin, fanout, qos1: where subscribers connect; default the url. */
  subscriberUrl?: string;
  protocol?: 4 | 5;
  /** Payload bytes. */
  size?: number;
  qos?: 0 | 1;
  publishers?: number;
  subscribers?: number;
  connections?: number;
  /** Connects (or TLS handshakes) in flight at once. */
  concurrency?: number;
  /** Messages/s: latency's fixed rate; for throughput scenarios an optional cap (0 = none). */
  rate?: number;
  /** Measured seconds (after warm-up). */
  duration?: number;
  warmup?: number;
  /** QoS 1 in-flight window per publisher (capped by the broker's Receive Maximum). */
  window?: number;
  /** QoS 0: how many messages publishers may run ahead of delivery, per subscriber. */
  ahead?: number;
  /** Retained messages to store (retained scenario). */
  retained?: number;
  /** Seconds idle connections are held (connections scenario). */
  hold?: number;
  /**
   * tls-connect: connections made one at a time after the timed phases, full then resumed, for each
   * side's CPU per handshake (default 200; 0 skips them).
   */
  handshakes?: number;
  cafile?: string;
  /** Client certificate and key files (PEM) every connection presents, for require_certificate listeners. */
  cert?: string;
  key?: string;
  /** Broker PID, for its CPU and RSS (same machine, Linux). */
  pid?: number;
  /** Remove the retained messages afterwards (default true). */
  cleanup?: boolean;
  /**
   * fanin, fanout, qos1: publishers limited only by their own in-flight window (QoS 1) or socket
   * (QoS 0), not by delivery; the same as the `-unpaced` scenario names.
   */
  unpaced?: boolean;
  /**
   * fanin, fanout, qos1: subscribers hold persistent sessions (clean start false, expiry 300 s), so
   * a durable broker writes their in-flight messages; default clean sessions, which it keeps in memory.
   */
  persistentSubscribers?: boolean;
  /** abuse: one flood kind, or 'all' (default) for each in turn. */
  flood?: FloodKind | 'all';
  /** abuse: bytes of the retained message the re-SUBSCRIBE flood asks for again and again. */
  retainedSize?: number;
  /** idle-connections: measure a separate client's PUBLISH round trip while they are held (default true). */
  probe?: boolean;
  /** abuse: MiB the broker's RSS may grow during a flood before the flood is cut short (needs pid). */
  rssLimit?: number;
}

export interface ResolvedBenchOptions {
  readonly scenario: ScenarioName;
  readonly url: string;
  readonly target: Target;
  /** Publishers' brokers, in turn (default [target]). */
  readonly publisherTargets: readonly Target[];
  readonly subscriberTarget: Target;
  readonly protocol: 4 | 5;
  readonly size: number;
  readonly qos: 0 | 1;
  readonly publishers: number;
  readonly subscribers: number;
  readonly connections: number;
  readonly concurrency: number;
  readonly rate: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly window: number;
  readonly ahead: number;
  readonly retained: number;
  readonly holdMs: number;
  readonly handshakes: number;
  readonly pid: number | undefined;
  readonly cleanup: boolean;
  readonly unpaced: boolean;
  readonly persistentSubscribers: boolean;
  readonly floods: readonly FloodKind[];
  readonly retainedSize: number;
  readonly rssLimitKb: number;
  readonly probe: boolean;
  /** Unique per run: client ids and topics carry it, so runs never collide. */
  readonly runId: string;
}

type Defaults = Required<Pick<BenchOptions, 'size' | 'qos' | 'publishers' | 'subscribers' | 'duration' | 'warmup' | 'rate' | 'window' | 'ahead'>>;

const BASE: Defaults = { size: 64, qos: 0, publishers: 1, subscribers: 1, duration: 10, warmup: 1, rate: 0, window: 64, ahead: 10_000 };

const DEFAULTS: Record<ScenarioName, Partial<Defaults>> = {
  fanin: { publishers: 8, ahead: 20_000 },
  fanout: { subscribers: 100, ahead: 2_000 },
  qos1: { publishers: 4, qos: 1 },
  'fanin-unpaced': { publishers: 8 },
  'fanout-unpaced': { subscribers: 100 },
  // The reproduction that motivated the unpaced variants: 8 publishers × 16 in flight → 1 subscriber.
  'qos1-unpaced': { publishers: 8, qos: 1, window: 16 },
  latency: { rate: 5000 },
  abuse: { rate: 1000, duration: 5 },
  connections: {},
  'idle-connections': { duration: 4 },
  'tls-connect': {},
  retained: {},
};

export class BenchOptionError extends MoatError {
  constructor(message: string) {
    super('MOAT_ERR_BENCH_OPTION', message);
    this.name = 'BenchOptionError';
  }
}

function check(name: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new BenchOptionError(`--${name} must be a number from ${min} to ${max}, got ${String(value)}.`);
  }
  return value;
}

function int(name: string, value: number, min: number, max: number): number {
  check(name, value, min, max);
  if (!Number.isInteger(value)) throw new BenchOptionError(`--${name} must be a whole number, got ${String(value)}.`);
  return value;
}

export function resolveBenchOptions(scenario: string, o: BenchOptions = {}): ResolvedBenchOptions {
  if (!(SCENARIOS as readonly string[]).includes(scenario)) {
    throw new BenchOptionError(`unknown scenario "${scenario}"; choose one of ${SCENARIOS.join(', ')}.`);
  }
  let name = scenario as ScenarioName;
  if (o.unpaced === true && !name.endsWith('-unpaced')) {
    if (!(name in UNPACED)) throw new BenchOptionError(`--unpaced applies to ${Object.keys(UNPACED).join(', ')}, not ${name}.`);
    name = UNPACED[name as keyof typeof UNPACED];
  }
  const d = { ...BASE, ...DEFAULTS[name] };
  // The latency pair (latency, abuse) stamps a send time into each payload and needs a fixed rate.
  const timed = name === 'latency' || name === 'abuse';
  const flood = o.flood ?? 'all';
  if (flood !== 'all' && !(FLOODS as readonly string[]).includes(flood)) throw new BenchOptionError(`--flood must be one of ${FLOODS.join(', ')} or all, got ${String(flood)}.`);
  const url = o.url ?? (name === 'tls-connect' ? 'mqtts://127.0.0.1:8883' : 'mqtt://127.0.0.1:1883');
  let ca: Buffer | undefined;
  if (o.cafile !== undefined) {
    try {
      ca = readFileSync(o.cafile);
    } catch (error) {
      throw new BenchOptionError(`--cafile ${o.cafile}: ${(error as Error).message}`);
    }
  }
  if ((o.cert === undefined) !== (o.key === undefined)) throw new BenchOptionError('--cert and --key go together: give both the client certificate and its key.');
  let client: { cert: Buffer; key: Buffer } | undefined;
  if (o.cert !== undefined && o.key !== undefined) {
    const read = (flag: string, path: string): Buffer => {
      try {
        return readFileSync(path);
      } catch (error) {
        throw new BenchOptionError(`--${flag} ${path}: ${(error as Error).message}`);
      }
    };
    client = { cert: read('cert', o.cert), key: read('key', o.key) };
  }
  const targetOf = (text: string): Target => {
    try {
      return parseTarget(text, ca, client);
    } catch (error) {
      throw new BenchOptionError((error as Error).message);
    }
  };
  const target = targetOf(url);
  if (o.publisherUrls !== undefined && o.publisherUrls.length === 0) throw new BenchOptionError('--publisher-urls needs at least one URL.');
  const publisherTargets = o.publisherUrls === undefined ? [target] : o.publisherUrls.map(targetOf);
  const subscriberTarget = o.subscriberUrl === undefined ? target : targetOf(o.subscriberUrl);
  if (name === 'tls-connect' && !target.tls) throw new BenchOptionError('tls-connect needs an mqtts:// --url (and usually --cafile).');
  const protocol = o.protocol ?? 4;
  if (protocol !== 4 && protocol !== 5) throw new BenchOptionError(`--protocol must be 4 (MQTT 3.1.1) or 5, got ${String(protocol)}.`);
  const qos = o.qos ?? d.qos;
  if (qos !== 0 && qos !== 1) throw new BenchOptionError(`--qos must be 0 or 1, got ${String(qos)}.`);
  return {
    scenario: name,
    url,
    target,
    publisherTargets,
    subscriberTarget,
    protocol,
    size: int('size', o.size ?? d.size, timed ? 8 : 0, 16 * 1024 * 1024),
    qos,
    publishers: int('publishers', o.publishers ?? d.publishers, 1, 10_000),
    subscribers: int('subscribers', o.subscribers ?? d.subscribers, 1, 10_000),
    connections: int('connections', o.connections ?? (name === 'idle-connections' ? 19_000 : 10_000), 1, 1_000_000),
    // 100, not more: Mosquitto listens with a backlog of 100, and overflowing it costs a 1 s SYN
    // retransmit that would measure the backlog, not the broker.
    concurrency: int('concurrency', o.concurrency ?? (name === 'tls-connect' ? 8 : 100), 1, 10_000),
    rate: check('rate', o.rate ?? d.rate, timed ? 1 : 0, 10_000_000),
    durationMs: check('duration', o.duration ?? d.duration, 0.1, 3600) * 1000,
    warmupMs: check('warmup', o.warmup ?? d.warmup, 0, 600) * 1000,
    window: int('window', o.window ?? d.window, 1, 65535),
    // QoS 1 messages the broker cannot deliver yet are queued, and queues are bounded (mosquitto's
    // max_queued_messages default is 1000): stay well below, or the broker drops them by design.
    ahead: int('ahead', o.ahead ?? (qos === 1 ? 500 : d.ahead), 1, 10_000_000),
    retained: int('retained', o.retained ?? 100_000, 1, 10_000_000),
    holdMs: check('hold', o.hold ?? (name === 'abuse' ? 1 : 2), 0, 3600) * 1000,
    handshakes: int('handshakes', o.handshakes ?? 200, 0, 100_000),
    pid: o.pid === undefined ? undefined : int('pid', o.pid, 1, 2 ** 31),
    cleanup: o.cleanup ?? true,
    unpaced: name.endsWith('-unpaced'),
    persistentSubscribers: o.persistentSubscribers === true,
    floods: flood === 'all' ? FLOODS : [flood],
    retainedSize: int('retained-size', o.retainedSize ?? 256 * 1024, 1, 256 * 1024 * 1024),
    probe: o.probe ?? true,
    rssLimitKb: check('rss-limit', o.rssLimit ?? 1024, 1, 1024 * 1024) * 1024,
    runId: `${process.pid.toString(36)}${Date.now().toString(36)}`,
  };
}
