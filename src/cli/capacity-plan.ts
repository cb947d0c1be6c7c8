// `moat capacity plan`: the planning formula (devices × 1.2 + services × 2 + monitors × 3, rounded
// up), the config lines it leads to with their arithmetic, and the OS limits it needs, read from this
// machine (/proc) and compared. Pure functions over the inputs and the readings, so tests check the
// arithmetic and the wording without a broker; readOsLimits() is the only part that reads files.
import { readFileSync } from 'node:fs';
import { formatBytes, formatCount } from './top-render.js';

export interface PlanInput {
  readonly devices: number;
  readonly services: number;
  readonly monitors: number;
  /** Messages per second the broker receives, all publishers together. */
  readonly rate?: number;
  /** Average PUBLISH payload size in bytes. */
  readonly size?: number;
  /** Seconds of traffic the broker must be able to hold when subscribers fall behind. */
  readonly bufferSeconds: number;
}

/** Each weight in tenths, so the sum is computed in whole numbers (5 × 1.2 is 6, not 6.000000000000001). */
const WEIGHTS_IN_TENTHS = { devices: 12, services: 20, monitors: 30 } as const;

/** Resident memory a connection costs before any message: moat's measured idle cost, rounded up (docs/PERFORMANCE.md). */
export const BYTES_PER_CONNECTION = 4096;
/** Descriptors the broker uses besides its connections: listeners, log and store files, the admin listener, Node's own. */
export const SPARE_FILE_DESCRIPTORS = 100;
/** Mosquitto's defaults, which moat shares: what the plan keeps unless a rate says otherwise. */
export const DEFAULT_INFLIGHT = 20;
export const DEFAULT_QUEUED = 1000;
/** The largest value the kernel's backlog settings and max_connections take. */
const MAX_BACKLOG = 65535;
export const MAX_CONNECTIONS = 2_147_483_647;

export interface ConfigLine {
  readonly option: string;
  readonly value: number;
  /** The arithmetic or the reason, in words. */
  readonly why: string;
}

export interface Plan {
  readonly input: PlanInput;
  readonly connections: number;
  readonly arithmetic: string;
  readonly config: ConfigLine[];
  /** What the OS must allow. */
  readonly needs: { openFiles: number; somaxconn: number; synBacklog: number };
}

/** One OS setting: the machine's value (undefined when it cannot be read), what the plan needs, the fix. */
export interface OsCheck {
  readonly setting: string;
  readonly current: string;
  readonly need: number;
  readonly ok: boolean | undefined;
  readonly fix: string[];
}

export interface OsReadings {
  /**
   * RLIMIT_NOFILE's soft value in the shell this command was started from (its parent's
   * /proc/PPID/limits): Node raises its own soft limit to the hard one at start, so this process's
   * own soft value is always the hard one. Shown for information only (see checkOs).
   */
  openFilesSoft?: number;
  /** RLIMIT_NOFILE's hard value; Infinity for "unlimited". What a broker gets: moat and Mosquitto 2 raise soft to it. */
  openFilesHard?: number;
  somaxconn?: number;
  synBacklog?: number;
}

const times = (n: number, weightTenths: number): string => `${formatCount(n)} × ${weightTenths / 10}`;
const tenths = (n: number): string => formatCount(Math.floor(n / 10)) + (n % 10 === 0 ? '' : `.${n % 10}`);

export class PlanError extends Error {}

export function planCapacity(input: PlanInput): Plan {
  const parts = [input.devices * WEIGHTS_IN_TENTHS.devices, input.services * WEIGHTS_IN_TENTHS.services, input.monitors * WEIGHTS_IN_TENTHS.monitors];
  const sumTenths = parts.reduce((a, b) => a + b, 0);
  const connections = Math.ceil(sumTenths / 10);
  if (connections < 1) throw new PlanError('Nothing to plan: give --devices, --services or --monitors (at least one of them above 0).');
  if (connections > MAX_CONNECTIONS) {
    throw new PlanError(`The plan needs ${formatCount(connections)} connections, more than max_connections takes (${formatCount(MAX_CONNECTIONS)}): split the fleet over several brokers or a cluster.`);
  }
  const terms = `${times(input.devices, WEIGHTS_IN_TENTHS.devices)} + ${times(input.services, WEIGHTS_IN_TENTHS.services)} + ${times(input.monitors, WEIGHTS_IN_TENTHS.monitors)}`;
  const rounded = sumTenths % 10 === 0 ? '' : `, rounded up to ${formatCount(connections)}`;
  const arithmetic = `${terms} = ${parts.map(tenths).join(' + ')} = ${tenths(sumTenths)}${rounded}`;

  const config: ConfigLine[] = [
    { option: 'max_connections', value: connections, why: 'the planned connections (above); set it on each listener the fleet connects to' },
    { option: 'max_inflight_messages', value: DEFAULT_INFLIGHT, why: `QoS 1/2 messages in flight per client at once: ${DEFAULT_INFLIGHT} (Mosquitto's default) keeps a slow link busy without piling up; lower it for very small devices` },
  ];
  const { rate, size } = input;
  let queued = DEFAULT_QUEUED;
  if (rate !== undefined) {
    const perClient = rate / connections;
    const need = Math.ceil(perClient * input.bufferSeconds);
    queued = Math.max(DEFAULT_QUEUED, need);
    config.push({
      option: 'max_queued_messages',
      value: queued,
      why: `a client that stops reading for ${input.bufferSeconds} s misses ${formatRate(rate)} msg/s ÷ ${formatCount(connections)} connections × ${input.bufferSeconds} s = ${formatCount(need)} messages (at least Mosquitto's default, ${formatCount(DEFAULT_QUEUED)})`,
    });
  } else {
    config.push({ option: 'max_queued_messages', value: queued, why: `Mosquitto's default; pass --rate (and --size) to size it from the traffic` });
  }
  if (size !== undefined) {
    config.push({ option: 'max_queued_bytes', value: queued * size, why: `${formatCount(queued)} queued messages × ${formatCount(size)} B = ${formatBytes(queued * size)} per client` });
  }
  if (rate !== undefined && size !== undefined) {
    const messageBytes = Math.ceil(rate * size * input.bufferSeconds);
    const connectionBytes = connections * BYTES_PER_CONNECTION;
    const mib = 1024 * 1024;
    const limit = Math.ceil((messageBytes + connectionBytes) / mib) * mib;
    if (!Number.isSafeInteger(limit)) throw new PlanError(`memory_limit would be ${formatBytes(limit)}, more than one broker can hold: lower --rate, --size or --buffer.`);
    config.push({
      option: 'memory_limit',
      value: limit,
      why:
        `${formatRate(rate)} msg/s × ${formatCount(size)} B × ${input.bufferSeconds} s buffer = ${formatCount(messageBytes)} B for messages` +
        ` + ${formatCount(connections)} connections × ${formatCount(BYTES_PER_CONNECTION)} B = ${formatCount(connectionBytes)} B for connection state` +
        ` = ${formatCount(messageBytes + connectionBytes)} B, rounded up to ${formatBytes(limit)}`,
    });
  } else {
    config.push({ option: 'memory_limit', value: 0, why: '0 = no limit; pass --rate MSG_PER_S and --size BYTES to compute one' });
  }
  const backlog = Math.min(MAX_BACKLOG, connections);
  return { input, connections, arithmetic, config, needs: { openFiles: connections + SPARE_FILE_DESCRIPTORS, somaxconn: backlog, synBacklog: backlog } };
}

function formatRate(n: number): string {
  return Number.isInteger(n) ? formatCount(n) : String(n);
}

/** "Max open files  1024  4096  files" in /proc/self/limits → [soft, hard]. */
export function parseOpenFiles(limits: string): [number, number] | undefined {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  if (match === null) return undefined;
  const value = (text: string): number => (text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text));
  return [value(match[1] as string), value(match[2] as string)];
}

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** This process's RLIMIT_NOFILE and the kernel's backlog settings (Linux /proc; undefined where absent). */
export function readOsLimits(): OsReadings {
  const readings: OsReadings = {};
  const limitsOf = (path: string): [number, number] | undefined => {
    try {
      return parseOpenFiles(readFileSync(path, 'utf8'));
    } catch {
      return undefined; // not Linux, or the parent is gone: reported as unknown
    }
  };
  const own = limitsOf('/proc/self/limits');
  const parent = limitsOf(`/proc/${process.ppid}/limits`);
  if (own !== undefined) readings.openFilesHard = own[1];
  const soft = parent?.[0] ?? own?.[0];
  if (soft !== undefined) readings.openFilesSoft = soft;
  const somaxconn = readNumber('/proc/sys/net/core/somaxconn');
  if (somaxconn !== undefined) readings.somaxconn = somaxconn;
  const synBacklog = readNumber('/proc/sys/net/ipv4/tcp_max_syn_backlog');
  if (synBacklog !== undefined) readings.synBacklog = synBacklog;
  return readings;
}

const shown = (n: number | undefined): string => (n === undefined ? 'unknown' : n === Number.POSITIVE_INFINITY ? 'unlimited' : String(n));

function sysctlCheck(name: string, current: number | undefined, need: number): OsCheck {
  const ok = current === undefined ? undefined : current >= need;
  const fix = ok === true ? [] : [`sysctl -w ${name}=${need}`, `echo '${name} = ${need}' >> /etc/sysctl.d/90-moat.conf   # keeps it after a reboot`];
  return { setting: name, current: shown(current), need, ok, fix };
}

/** Compares the machine's readings with what the plan needs, with the exact fix for each one too low. */
export function checkOs(plan: Plan, readings: OsReadings): OsCheck[] {
  const need = plan.needs.openFiles;
  const { openFilesSoft: soft, openFilesHard: hard } = readings;
  // The hard limit decides: moat (Node) and Mosquitto 2 both raise their soft limit to it at start.
  const ok = hard === undefined ? undefined : hard >= need;
  const fix =
    ok === true
      ? []
      : [
          `systemd: LimitNOFILE=${need} in the [Service] section of the broker's unit (systemctl edit <unit>), then restart it`,
          `/etc/security/limits.conf (login sessions): <user> soft nofile ${need} and <user> hard nofile ${need}`,
          `a shell run as root: ulimit -n ${need} before starting the broker`,
        ];
  const files: OsCheck = { setting: OPEN_FILES, current: `hard ${shown(hard)} (soft ${shown(soft)} in this shell)`, need, ok, fix };
  return [files, sysctlCheck('net.core.somaxconn', readings.somaxconn, plan.needs.somaxconn), sysctlCheck('net.ipv4.tcp_max_syn_backlog', readings.synBacklog, plan.needs.synBacklog)];
}

export const OPEN_FILES = 'open files (RLIMIT_NOFILE)';

const NEED_WHY: Readonly<Record<string, string>> = {
  [OPEN_FILES]: `one descriptor per connection + ${SPARE_FILE_DESCRIPTORS} for listeners, logs and the store; the hard limit counts: moat (Node) and Mosquitto 2 raise their soft limit to it at start`,
  'net.core.somaxconn': 'the accept queue: after a broker restart every device reconnects at once',
  'net.ipv4.tcp_max_syn_backlog': 'half-open connections during that same reconnect storm',
};

/** The plan as the terminal shows it. */
export function renderPlan(plan: Plan, os: readonly OsCheck[]): string[] {
  const lines = [
    'Connections = devices × 1.2 + services × 2 + monitors × 3',
    `            = ${plan.arithmetic}`,
    '',
    'Config lines (moat.conf; the same names in mosquitto.conf):',
  ];
  for (const line of plan.config) lines.push(`  ${line.option} ${line.value}`, `      # ${line.why}`);
  lines.push('', 'OS settings (this machine):');
  for (const check of os) {
    const verdict = check.ok === undefined ? 'UNKNOWN (cannot read it here)' : check.ok ? 'ok' : 'TOO LOW';
    lines.push(`  ${check.setting}: ${check.current}; needs ${formatCount(check.need)} — ${verdict}`);
    const why = NEED_WHY[check.setting];
    if (why !== undefined) lines.push(`      # ${why}`);
    for (const fix of check.fix) lines.push(`      fix: ${fix}`);
  }
  return lines;
}

/** The plan as `--json` prints it. */
export function planJson(plan: Plan, os: readonly OsCheck[]): unknown {
  return {
    input: plan.input,
    connections: plan.connections,
    arithmetic: plan.arithmetic,
    config: plan.config,
    os: os.map((check) => ({ ...check, ok: check.ok ?? null })),
  };
}
