// `moat capacity plan` (the sizing formula, config lines and OS limits; capacity-plan.ts) and
// `moat capacity check URL` (a live broker's usage, headroom and trend; capacity-check.ts). This
// file wires the flags and does the sampling.
import type { Command } from 'commander';
import { AdminApiError } from './admin-api.js';
import { BrokerView } from './broker-view.js';
import { assessCapacity, CHECK_EXIT, type Sample } from './capacity-check.js';
import { checkOs, MAX_CONNECTIONS, PlanError, planCapacity, planJson, readOsLimits, renderPlan } from './capacity-plan.js';
import { addMonitorFlags, buildMonitor, decimalFlag, openSys, wholeFlag, type MonitorFlags } from './monitor-flags.js';
import { CliError, runCli } from './mqtt-flags.js';

interface PlanFlags {
  devices?: string;
  services?: string;
  monitors?: string;
  rate?: string;
  size?: string;
  buffer?: string;
  json?: boolean;
}

interface CheckFlags extends MonitorFlags {
  window?: string;
  threshold?: string;
  critical?: string;
  json?: boolean;
}

/** MQTT's largest packet (268,435,455 B): no payload is bigger. */
const MAX_PAYLOAD = 268_435_455;
const DAY_SECONDS = 86_400;

export function registerCapacityCommand(program: Command): void {
  program.enablePositionalOptions();
  const capacity = program.command('capacity').description('size a broker for a fleet (plan) or measure a live one (check)').helpOption('--help', 'display help for command');
  capacity
    .command('plan')
    .description('connections = devices × 1.2 + services × 2 + monitors × 3; the config lines and OS limits that follow')
    .helpOption('--help', 'display help for command')
    .option('--devices <n>', 'devices in the fleet', '0')
    .option('--services <n>', 'backend services connected to the broker', '0')
    .option('--monitors <n>', 'monitoring clients (dashboards, moat top, alerting)', '0')
    .option('--rate <msg_per_s>', 'messages per second the broker receives, all publishers together')
    .option('--size <bytes>', 'average message payload size in bytes')
    .option('--buffer <seconds>', 'seconds of traffic the broker must hold while subscribers fall behind', '60')
    .option('--json', 'print the plan as JSON')
    .action((flags: PlanFlags) => runCli(false, async () => runPlan(flags)));
  const check = capacity.command('check').description("a live broker's connections against its limit, headroom and when the trend reaches the limit; exit 0 ok, 1 warning, 2 critical, 3 unknown");
  addMonitorFlags(program, check)
    .option('--window <seconds>', 'how long to sample $SYS', '30')
    .option('--threshold <percent>', 'warn (exit 1) at or over this share of the limit', '80')
    .option('--critical <percent>', 'critical (exit 2) at or over this share of the limit', '95')
    .option('--json', 'print the result as JSON')
    .action((url: string | undefined, flags: CheckFlags) => runCli(flags.quiet === true, () => runCheck(url, flags)));
}

function runPlan(flags: PlanFlags): number {
  const input = {
    devices: wholeFlag('--devices', flags.devices ?? '0', 0, MAX_CONNECTIONS),
    services: wholeFlag('--services', flags.services ?? '0', 0, MAX_CONNECTIONS),
    monitors: wholeFlag('--monitors', flags.monitors ?? '0', 0, MAX_CONNECTIONS),
    bufferSeconds: wholeFlag('--buffer', flags.buffer ?? '60', 1, DAY_SECONDS),
    ...(flags.rate === undefined ? {} : { rate: decimalFlag('--rate', flags.rate, 0.001, 1e9) }),
    ...(flags.size === undefined ? {} : { size: wholeFlag('--size', flags.size, 1, MAX_PAYLOAD) }),
  };
  let plan;
  try {
    plan = planCapacity(input);
  } catch (error) {
    if (error instanceof PlanError) throw new CliError(`Error: ${error.message}`);
    throw error;
  }
  const os = checkOs(plan, readOsLimits());
  process.stdout.write(flags.json === true ? `${JSON.stringify(planJson(plan, os), null, 2)}\n` : `${renderPlan(plan, os).join('\n')}\n`);
  return 0;
}

async function runCheck(url: string | undefined, flags: CheckFlags): Promise<number> {
  const windowSeconds = decimalFlag('--window', flags.window ?? '30', 1, DAY_SECONDS);
  const warnPercent = decimalFlag('--threshold', flags.threshold ?? '80', 1, 100);
  const criticalPercent = decimalFlag('--critical', flags.critical ?? '95', warnPercent, 100);
  let monitor;
  try {
    monitor = await buildMonitor(url, flags, 'capacity');
  } catch (error) {
    if (error instanceof CliError) throw new CliError(error.message, CHECK_EXIT.unknown);
    throw error;
  }
  const view = new BrokerView(monitor.target, monitor.limit);
  let client;
  // The retained value sent on subscribing predates this check's own connection, which would show as
  // growth: the trend starts at the first live update of the count.
  let live = false;
  try {
    client = await openSys(monitor.connection, (topic, payload, at, retained) => {
      view.onSys(topic, payload, at);
      if (topic === '$SYS/broker/clients/connected' && !retained) live = true;
    });
  } catch (error) {
    // A check that cannot see the broker says UNKNOWN, in words, whatever the CONNACK code was.
    if (error instanceof CliError) throw new CliError(error.message, CHECK_EXIT.unknown);
    throw error;
  }
  if (flags.quiet !== true) process.stderr.write(`Sampling ${monitor.target} for ${windowSeconds} s...\n`);
  const samples: Sample[] = [];
  const started = Date.now();
  let adminError: string | undefined;
  let adminBusy = false;
  const tick = (): void => {
    const connected = view.state.connected;
    if (connected !== undefined && live) samples.push({ t: (Date.now() - started) / 1000, connected });
    if (monitor.admin === undefined || adminBusy) return;
    adminBusy = true;
    monitor.admin
      .stats()
      .then((stats) => {
        view.onAdmin(stats, undefined);
        live = true;
      })
      .catch((error: unknown) => (adminError = error instanceof AdminApiError ? error.message : String(error)))
      .finally(() => (adminBusy = false));
  };
  // Sample the step function at a steady pace: Mosquitto republishes a value only when it changes.
  const stepMs = Math.min(1000, Math.max(200, (windowSeconds * 1000) / 30));
  const timer = setInterval(tick, stepMs);
  tick();
  try {
    await new Promise((resolve) => setTimeout(resolve, windowSeconds * 1000));
    tick();
    // Nothing live in the window (sys_interval longer than it): report the stored value, with no trend.
    if (samples.length === 0 && view.state.connected !== undefined) samples.push({ t: windowSeconds, connected: view.state.connected });
  } finally {
    clearInterval(timer);
    await client.end().catch(() => undefined);
  }
  const state = view.state;
  const result = assessCapacity({
    target: monitor.target,
    ...(state.version === undefined ? {} : { version: state.version }),
    windowSeconds,
    samples,
    ...(state.limit === undefined ? {} : { limit: state.limit }),
    ...(state.limitSource === undefined ? {} : { limitSource: state.limitSource }),
    warnPercent,
    criticalPercent,
    endedAt: Date.now(),
    ...(state.refusedTotal === undefined ? {} : { refusedTotal: state.refusedTotal }),
  });
  if (flags.json === true) {
    const { lines: _lines, ...figures } = result;
    const json = { ...figures, exitCode: CHECK_EXIT[result.status], limitSource: state.limitSource ?? null, adminError: adminError ?? null, samples };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    process.stdout.write(`${result.lines.join('\n')}\n`);
    if (adminError !== undefined) process.stdout.write(`Admin API   ${adminError}\n`);
  }
  return CHECK_EXIT[result.status];
}
