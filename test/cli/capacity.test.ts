// `moat capacity plan`: the example (1,000 devices, 5 services, 2 monitors = 1,216) with its
// arithmetic, the config lines, and the OS limits compared with what /proc says for this machine.
// `moat capacity check`: a live moat and Debian's Mosquitto, sampled while clients keep connecting.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { assessCapacity, linearSlope } from '../../src/cli/capacity-check.js';
import { parseOpenFiles } from '../../src/cli/capacity-plan.js';
import { connectMqttJs } from '../kit/mqttjs.js';
import { moatCommand, moatListener, startMoat } from '../kit/moat.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { until } from '../kit/wait.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Running {
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly done: Promise<Run>;
}

/** Starts `moat capacity ARGS` (optionally under `sh -c 'ulimit ...; exec ...'`). */
function startCapacity(args: readonly string[], shellPrefix?: string): Running {
  const { command, args: argv } = moatCommand(['capacity', ...args]);
  const child =
    shellPrefix === undefined
      ? spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
      : // no exec: the shell stays the parent, whose limits the plan reads as "this shell's"
        spawn('/bin/sh', ['-c', `${shellPrefix}; "$@"`, 'sh', command, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const done = new Promise<Run>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  return { stdout: () => stdout, stderr: () => stderr, done };
}

const runCapacity = (args: readonly string[], shellPrefix?: string): Promise<Run> => startCapacity(args, shellPrefix).done;

function procNumber(path: string): number {
  return Number(readFileSync(path, 'utf8').trim());
}

interface OsJson {
  setting: string;
  current: string;
  need: number;
  ok: boolean | null;
  fix: string[];
}

describe('moat capacity plan', () => {
  test("the issue's example: 1,000 devices × 1.2 + 5 services × 2 + 2 monitors × 3 = 1,216, with the arithmetic and the config lines", async () => {
    const run = await runCapacity(['plan', '--devices', '1000', '--services', '5', '--monitors', '2']);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.equal(lines[0], 'Connections = devices × 1.2 + services × 2 + monitors × 3');
    assert.equal(lines[1], '            = 1,000 × 1.2 + 5 × 2 + 2 × 3 = 1,200 + 10 + 6 = 1,216');
    assert.ok(lines.includes('  max_connections 1216'));
    assert.ok(lines.includes('  max_inflight_messages 20'));
    assert.ok(lines.includes('  max_queued_messages 1000'));
    assert.ok(lines.includes('  memory_limit 0'));
    assert.match(run.stdout, /pass --rate MSG_PER_S and --size BYTES/);
  });

  test('fractions round up: 7 devices × 1.2 = 8.4 → 9 (whole-number arithmetic, no 8.400000000000002)', async () => {
    const run = await runCapacity(['plan', '--devices', '7', '--monitors', '1']);
    assert.match(run.stdout, /= 7 × 1\.2 \+ 0 × 2 \+ 1 × 3 = 8\.4 \+ 0 \+ 3 = 11\.4, rounded up to 12\n/);
    assert.match(run.stdout, /max_connections 12\n/);
  });

  test('--rate and --size size the queues and memory_limit, with the arithmetic shown', async () => {
    const run = await runCapacity(['plan', '--devices', '1000', '--services', '5', '--monitors', '2', '--rate', '500', '--size', '256', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const plan = JSON.parse(run.stdout) as { connections: number; config: Array<{ option: string; value: number; why: string }> };
    assert.equal(plan.connections, 1216);
    const byOption = new Map(plan.config.map((c) => [c.option, c]));
    // 500 msg/s × 256 B × 60 s = 7,680,000 B; 1,216 × 4,096 B = 4,980,736 B; sum 12,660,736 B → 13 MiB.
    assert.equal(byOption.get('memory_limit')?.value, 13 * 1024 * 1024);
    assert.match(byOption.get('memory_limit')?.why ?? '', /500 msg\/s × 256 B × 60 s buffer = 7,680,000 B .* \+ 1,216 connections × 4,096 B = 4,980,736 B .* = 12,660,736 B, rounded up to 13\.0 MiB/);
    assert.equal(byOption.get('max_queued_messages')?.value, 1000);
    assert.equal(byOption.get('max_queued_bytes')?.value, 256_000);
  });

  test('the config lines it prints start moat and Mosquitto as they are', async (t) => {
    const run = await runCapacity(['plan', '--devices', '1000', '--services', '5', '--monitors', '2', '--rate', '500', '--size', '256']);
    const lines = run.stdout.split('\n').filter((l) => /^ {2}[a-z_]+ \d+$/.test(l)).map((l) => l.trim());
    assert.deepEqual(lines.map((l) => l.split(' ')[0]), ['max_connections', 'max_inflight_messages', 'max_queued_messages', 'max_queued_bytes', 'memory_limit']);
    const moat = await startMoat({ config: `listener 0 127.0.0.1\nallow_anonymous true\n${lines.join('\n')}\n` });
    t.after(() => moat.stop());
    assert.ok(moat.logs.every((l) => !/"level":(40|50)/.test(l)), `no warning or error:\n${moat.logs.join('\n')}`);
    const mosquitto = await startMosquitto({ config: lines.join('\n') });
    t.after(() => mosquitto.stop());
    const client = await connectMqttJs(mosquitto, { protocolVersion: 4 });
    await client.client.endAsync();
  });

  test("the OS readings are this machine's: RLIMIT_NOFILE from /proc/self/limits, somaxconn and tcp_max_syn_backlog from /proc/sys", async () => {
    const run = await runCapacity(['plan', '--devices', '1000', '--services', '5', '--monitors', '2', '--json']);
    const os = (JSON.parse(run.stdout) as { os: OsJson[] }).os;
    const [soft, hard] = parseOpenFiles(readFileSync('/proc/self/limits', 'utf8')) ?? [NaN, NaN];
    const somaxconn = procNumber('/proc/sys/net/core/somaxconn');
    const synBacklog = procNumber('/proc/sys/net/ipv4/tcp_max_syn_backlog');
    assert.deepEqual(os.map((c) => [c.setting, c.current, c.need, c.ok]), [
      // The child's parent is this test process: its soft limit is "this shell's".
      ['open files (RLIMIT_NOFILE)', `hard ${hard} (soft ${soft} in this shell)`, 1316, hard >= 1316],
      ['net.core.somaxconn', String(somaxconn), 1216, somaxconn >= 1216],
      ['net.ipv4.tcp_max_syn_backlog', String(synBacklog), 1216, synBacklog >= 1216],
    ]);
  });

  test("settings too low are named with the exact fix; the shell's soft limit (ulimit -S -n 1024) is shown, the hard one decides", async () => {
    const [, hard] = parseOpenFiles(readFileSync('/proc/self/limits', 'utf8')) ?? [NaN, NaN];
    const somaxconn = procNumber('/proc/sys/net/core/somaxconn');
    // Enough devices that every reading here is too low: more connections than somaxconn and the hard limit.
    const devices = Math.max(Math.ceil((somaxconn + 1) / 1.2), Number.isFinite(hard) ? Math.ceil(hard / 1.2) : 0);
    const connections = Math.ceil((devices * 12) / 10);
    const files = connections + 100;
    const run = await runCapacity(['plan', '--devices', String(devices)], 'ulimit -S -n 1024');
    assert.equal(run.code, 0, run.stderr);
    const hardText = Number.isFinite(hard) ? String(hard) : 'unlimited';
    assert.match(run.stdout, new RegExp(`open files \\(RLIMIT_NOFILE\\): hard ${hardText} \\(soft 1024 in this shell\\); needs [\\d,]+ — ${Number.isFinite(hard) ? 'TOO LOW' : 'ok'}`));
    if (Number.isFinite(hard)) {
      assert.match(run.stdout, new RegExp(`fix: systemd: LimitNOFILE=${files} in the \\[Service\\] section`));
      assert.match(run.stdout, new RegExp(`<user> soft nofile ${files} and <user> hard nofile ${files}`));
      assert.match(run.stdout, new RegExp(`fix: a shell run as root: ulimit -n ${files} before starting the broker`));
    }
    const backlog = Math.min(65535, connections);
    assert.match(run.stdout, new RegExp(`net.core.somaxconn: ${somaxconn}; needs [\\d,]+ — TOO LOW\\n.*\\n {6}fix: sysctl -w net.core.somaxconn=${backlog}\\n`));
  });

  test('edges: the largest fleet max_connections takes, one past it, nothing to plan, bad numbers', async () => {
    // 1,789,569,705 × 1.2 = 2,147,483,646 ≤ 2^31 − 1; one more device needs 2,147,483,648.
    const largest = await runCapacity(['plan', '--devices', '1789569705', '--monitors', '0']);
    assert.equal(largest.code, 0, largest.stderr);
    assert.match(largest.stdout, /max_connections 2147483646\n/);
    const over = await runCapacity(['plan', '--devices', '1789569706']);
    assert.equal(over.code, 1);
    assert.match(over.stderr, /needs 2,147,483,648 connections, more than max_connections takes \(2,147,483,647\)/);
    const nothing = await runCapacity(['plan']);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /Nothing to plan/);
    for (const [flag, value] of [['--devices', '-1'], ['--devices', '2147483648'], ['--devices', '1.5'], ['--size', '268435456'], ['--rate', '0'], ['--buffer', '86401']] as const) {
      const bad = await runCapacity(['plan', '--devices', '10', flag, value]);
      assert.equal(bad.code, 1, `${flag} ${value}`);
      assert.match(bad.stderr, new RegExp(`^Error: ${flag} must be a `), `${flag} ${value}: ${bad.stderr}`);
    }
  });
});

interface CheckJson {
  status: string;
  exitCode: number;
  connected: number;
  limit?: number;
  limitSource: string | null;
  percent?: number;
  headroom?: number;
  slopePerSecond?: number;
  secondsToLimit?: number;
}

/** Runs a check; once it says it is sampling, connects `grow` clients a little apart (the trend). */
async function checkWhileGrowing(broker: { host: string; port: number }, args: readonly string[], grow: number, clients: MqttClient[]): Promise<{ run: Run; json: CheckJson }> {
  const running = startCapacity(['check', '-h', broker.host, '-p', String(broker.port), '--json', ...args]);
  await until(() => running.stderr().includes('Sampling'), 15_000, 'the "Sampling" line');
  for (let i = 0; i < grow; i++) {
    clients.push((await connectMqttJs(broker, { protocolVersion: 4 })).client);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const run = await running.done;
  return { run, json: JSON.parse(run.stdout) as CheckJson };
}

describe('moat capacity check against live brokers', () => {
  const clients: MqttClient[] = [];
  after(() => Promise.all(clients.splice(0).map((c) => c.endAsync())));

  test('moat (max_connections 20, limit from $SYS): clients keep connecting → under 80%, a positive trend and an estimate; then 17 of 20 and flat → exit 1, "not reached"', async (t) => {
    const moat = await startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous true\nmax_connections 20\nsys_interval 1\n' });
    t.after(() => moat.stop());
    const { run, json } = await checkWhileGrowing(moat, ['--window', '8'], 10, clients);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(json.status, 'ok');
    assert.equal(json.connected, 11, 'ten clients and the check itself');
    assert.equal(json.limit, 20);
    assert.equal(json.limitSource, '$SYS');
    assert.equal(json.headroom, 9);
    assert.ok((json.slopePerSecond ?? 0) > 0, `slope ${json.slopePerSecond}`);
    assert.ok((json.secondsToLimit ?? 0) > 0);

    for (let i = 0; i < 6; i++) clients.push((await connectMqttJs(moat, { protocolVersion: 4 })).client);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // one sys_interval, so $SYS has them all before the window starts
    const flat = await runCapacity(['check', moat.url, '--window', '3']);
    assert.equal(flat.code, 1, flat.stdout + flat.stderr);
    assert.match(flat.stdout, /^Connected {3}17 \(this check's own connection included\)$/m);
    assert.match(flat.stdout, /^Usage {7}85% {2}WARNING: at or over the 80% threshold$/m);
    assert.match(flat.stdout, /^Headroom {4}3 connections \(15%\)$/m);
    assert.match(flat.stdout, /^Estimate {4}the limit is not reached at the current trend$/m);
  });

  test('Mosquitto (--limit 20): the same growth read from its $SYS; without --limit the check says UNKNOWN (exit 3)', async (t) => {
    const mosquitto = await startMosquitto({ config: 'sys_interval 1\nmax_connections 20\n' });
    t.after(() => mosquitto.stop());
    const { run, json } = await checkWhileGrowing(mosquitto, ['--window', '8', '--limit', '20'], 10, clients);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(json.connected, 11);
    assert.equal(json.limitSource, '--limit');
    assert.ok((json.slopePerSecond ?? 0) > 0, `slope ${json.slopePerSecond}`);
    assert.ok((json.secondsToLimit ?? 0) > 0);

    const unknown = await runCapacity(['check', mosquitto.url, '--window', '2']);
    assert.equal(unknown.code, 3, unknown.stdout + unknown.stderr);
    assert.match(unknown.stdout, /Limit {7}unknown: the broker does not publish it; pass --limit/);
  });

  test('--admin: the count and the limit come from moat\'s /api/stats; a wrong token is said in words', async (t) => {
    const token = 'capacity-test-admin-token-0123';
    const moat = await startMoat({ config: `listener 0 127.0.0.1\nallow_anonymous true\nmax_connections 6\nsys_interval 1\nadmin_listener 0\nadmin_token ${token}\n` });
    t.after(() => moat.stop());
    const listener = await moatListener(moat, 'admin-http');
    const admin = `http://${listener.host}:${listener.port}`;
    for (let i = 0; i < 4; i++) clients.push((await connectMqttJs(moat, { protocolVersion: 4 })).client);
    const run = await runCapacity(['check', moat.url, '--admin', admin, '--admin-token', token, '--window', '2', '--json']);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const json = JSON.parse(run.stdout) as CheckJson & { adminError: string | null };
    assert.equal(json.connected, 5, 'four clients and the check');
    assert.equal(json.limit, 6);
    assert.equal(json.limitSource, 'admin API');
    assert.equal(json.adminError, null);
    const wrong = await runCapacity(['check', moat.url, '--admin', admin, '--admin-token', 'wrong-token-0123456789', '--window', '2']);
    assert.equal(wrong.code, 1, 'the limit still comes from $SYS');
    assert.match(wrong.stdout, /^Limit {7}6 \(from \$SYS\)$/m);
    assert.match(wrong.stdout, /Admin API {3}admin API http:\/\/127\.0\.0\.1:\d+ refused the token \(HTTP 401\)/);
  });

  test('a broker that cannot be reached is UNKNOWN (exit 3), in words', async () => {
    const mosquitto = await startMosquitto();
    await mosquitto.stop();
    const run = await runCapacity(['check', mosquitto.url, '--window', '1']);
    assert.equal(run.code, 3);
    assert.match(run.stderr, /ECONNREFUSED.*Is the broker running/);
  });
});

describe('assessCapacity (pure)', () => {
  test('the least-squares line: one connection a second from 0 to 10 reaches a limit of 20 in 10 s', () => {
    const samples = Array.from({ length: 11 }, (_, i) => ({ t: i, connected: i }));
    assert.equal(linearSlope(samples), 1);
    const result = assessCapacity({ target: 'x', windowSeconds: 10, samples, limit: 20, warnPercent: 80, criticalPercent: 95, endedAt: Date.UTC(2030, 0, 1) });
    assert.equal(result.status, 'ok');
    assert.equal(result.secondsToLimit, 10);
    assert.ok(result.lines.includes('Estimate    at this trend the limit is reached in about 10 s, around 2030-01-01T00:00:10Z'), result.lines.join('\n'));
  });

  test('thresholds: 80% warns, 95% is critical, the limit reached says so; a falling trend is not reached', () => {
    const at = (connected: number, samples = [{ t: 0, connected }, { t: 1, connected }]) =>
      assessCapacity({ target: 'x', windowSeconds: 1, samples, limit: 100, warnPercent: 80, criticalPercent: 95, endedAt: 0 });
    assert.equal(at(79).status, 'ok');
    assert.equal(at(80).status, 'warning');
    assert.equal(at(95).status, 'critical');
    assert.ok(at(100).lines.includes('Estimate    the limit is reached now: new clients are being refused'));
    assert.ok(at(50, [{ t: 0, connected: 60 }, { t: 1, connected: 50 }]).lines.includes('Estimate    the limit is not reached at the current trend'));
    assert.equal(assessCapacity({ target: 'x', windowSeconds: 1, samples: [], limit: 100, warnPercent: 80, criticalPercent: 95, endedAt: 0 }).status, 'unknown');
  });

  test('the largest limit and the slowest rising trend still give a finite, printable estimate', () => {
    const samples = [{ t: 0, connected: 0 }, { t: 86_400, connected: 2 }];
    const result = assessCapacity({ target: 'x', windowSeconds: 86_400, samples, limit: 2_147_483_647, warnPercent: 80, criticalPercent: 95, endedAt: 0 });
    assert.ok(Number.isFinite(result.secondsToLimit));
    assert.ok(result.lines.some((l) => /^Estimate {4}at this trend the limit is reached in about \d+d \d\dh/.test(l)), result.lines.join('\n'));
  });
});
