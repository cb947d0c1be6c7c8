// `moat broker -v` as a real process: logging never blocks the broker nor floods its log. Whatever
// a client chose reaches a log line clipped to 200 characters with its full length stated, lists to
// their first five; a log destination nobody reads (a pipe, a FIFO as log file) drops lines and
// counts them instead of stalling the event loop or growing memory, and SIGTERM still exits.
// Mosquitto 2.0.11 with `log_type all` on a full stderr pipe stops serving (it blocks in write(2)),
// so these tests are moat's alone.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, test, type TestContext } from 'node:test';
import mqtt from 'mqtt';
import { encode } from '../../src/codec/encode.js';
import { moatCommand, repoRoot, startMoat, until } from '../kit/index.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-log-flood-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** No log line may be longer than this, whatever clients send. */
const MAX_LINE_BYTES = 4096;

type Record = { [key: string]: unknown };

function records(lines: readonly string[]): Record[] {
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record);
}

test('-v: a 65,000-character filter, 2,000 filters in one SUBSCRIBE, a long client id and user name make short lines stating the full lengths', async (t) => {
  const moat = await startMoat({ args: ['-v'] });
  t.after(() => moat.stop());
  const clientId = `long-${'c'.repeat(60_000)}`;
  const username = 'u'.repeat(10_000);
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${moat.port}`, { protocolVersion: 5, reconnectPeriod: 0, clientId, username });
  t.after(() => client.end(true));
  const hugeFilter = `big/${'f'.repeat(64_996)}`;
  assert.equal(hugeFilter.length, 65_000);
  await client.subscribeAsync(hugeFilter);
  const many = Array.from({ length: 2000 }, (_, i) => `many/${i}`);
  const granted = await client.subscribeAsync(many);
  assert.equal(granted.length, 2000);
  // An invalid filter is quoted in the protocol error that closes the connection. MQTT.js would not
  // send it, so the bytes are moat's encoder's, on a plain socket.
  const bad = connect(moat.port, '127.0.0.1');
  t.after(() => bad.destroy());
  await once(bad, 'connect');
  bad.write(encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'bad' }, 5));
  const filter = `${'b'.repeat(60_000)}/#/x`;
  bad.write(encode({ type: 'subscribe', packetId: 1, subscriptions: [{ filter, qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 5));

  const lines = (): Record[] => records(moat.logs);
  const event = (name: string): Record[] => lines().filter((r) => r['event'] === name);
  await until(() => event('subscribe').length >= 2 && event('protocol_error').length >= 1, 5000, 'two subscribe lines and a protocol_error line');

  const longest = Math.max(...moat.logs.map((l) => Buffer.byteLength(l)));
  assert.ok(longest <= MAX_LINE_BYTES, `longest log line ${longest} bytes`);

  const connected = event('client_connected').find((r) => String(r['clientId']).startsWith('long-'));
  assert.ok(connected, moat.logs.join('\n').slice(0, 2000));
  assert.equal(connected['clientId'], `long-${'c'.repeat(195)}…(+59,805 chars, 60,005 total)`);
  assert.equal(connected['username'], `${'u'.repeat(200)}…(+9,800 chars, 10,000 total)`);

  const [one, two] = event('subscribe');
  assert.ok(one !== undefined && two !== undefined);
  assert.deepEqual(one['filters'], [`big/${'f'.repeat(196)}…(+64,800 chars, 65,000 total)`]);
  assert.equal(one['clientId'], connected['clientId']);
  assert.deepEqual(two['filters'], ['many/0', 'many/1', 'many/2', 'many/3', 'many/4', '…(+1,995 more, 2,000 total)']);

  const [violation] = event('protocol_error');
  assert.ok(violation !== undefined);
  const detail = String(violation['detail']);
  const clipped = /^invalid topic filter "b{178}…\(\+([\d,]+) chars, ([\d,]+) total\)$/.exec(detail);
  assert.ok(clipped !== null, detail);
  const [left, total] = [clipped[1], clipped[2]].map((n) => Number(String(n).replaceAll(',', '')));
  assert.ok(total !== undefined && total > 2 * filter.length && left === total - 200, detail);
});

/** moat with stdout and stderr pipes the test reads only when it says so (after the "listening" line). */
interface UnreadMoat {
  readonly child: ChildProcess;
  readonly port: number;
  /** Starts reading `stream` again; every line from then on. */
  read(stream: 'stdout' | 'stderr'): string[];
}

async function startUnread(t: TestContext, config: string): Promise<UnreadMoat> {
  const file = join(dir, `moat-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, config);
  const { command, args } = moatCommand(['broker', '-v', '-c', file]);
  const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const streams = { stdout: child.stdout as Readable, stderr: child.stderr as Readable };
  // The "listening" line comes first on whichever stream logs; after it neither is read.
  const port = await new Promise<number>((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('utf8');
      const match = /"event":"listening".*?"port":(\d+)/.exec(seen);
      if (match === null) return;
      for (const stream of Object.values(streams)) {
        stream.off('data', onData);
        stream.pause();
      }
      resolve(Number(match[1]));
    };
    for (const stream of Object.values(streams)) stream.on('data', onData);
    child.once('exit', (code) => reject(new Error(`moat exited (${code}) before listening:\n${seen}`)));
  });
  return {
    child,
    port,
    read(name) {
      const lines: string[] = [];
      let partial = '';
      streams[name].on('data', (chunk: Buffer) => {
        const parts = (partial + chunk.toString('utf8')).split('\n');
        partial = parts.pop() ?? '';
        lines.push(...parts);
      });
      streams[name].resume();
      return lines;
    },
  };
}

/** The same 1,000-character filter subscribed `count` times by a client with a long id: one -v log line each, no state growing. */
async function flood(port: number, count: number): Promise<number> {
  const started = performance.now();
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0, clientId: `flood-${'c'.repeat(1000)}` });
  const filter = `flood/${'f'.repeat(1000)}`;
  await Promise.all(Array.from({ length: count }, () => client.subscribeAsync(filter)));
  await client.endAsync();
  return performance.now() - started;
}

/** Connect, subscribe, QoS 1 publish to itself until the message is back: the broker's response time (ms). */
async function roundTrip(port: number): Promise<number> {
  const started = performance.now();
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 });
  try {
    await client.subscribeAsync('probe/echo', { qos: 1 });
    const back = new Promise((resolve) => client.once('message', resolve));
    await client.publishAsync('probe/echo', 'ping', { qos: 1 });
    await back;
    return performance.now() - started;
  } finally {
    client.end(true);
  }
}

/** SIGTERM, then how long until the process exited (ms), or Infinity after `withinMs`. */
async function stopTimed(child: ChildProcess, withinMs: number): Promise<{ ms: number; code: number | null }> {
  const started = performance.now();
  const exited = once(child, 'exit') as Promise<[number | null]>;
  child.kill('SIGTERM');
  const abort = new AbortController();
  const timeout = sleep(withinMs, undefined, { signal: abort.signal }).catch(() => undefined);
  const result = await Promise.race([exited, timeout]);
  abort.abort();
  return result === undefined ? { ms: Infinity, code: null } : { ms: performance.now() - started, code: result[0] };
}

/** 12,000 lines of ~600 bytes: 7 MB, the 1 MB buffer and the pipe's own buffer many times over. */
const FLOOD_LINES = 12_000;

test('stderr a pipe nobody reads: the broker keeps answering, drops and counts lines, reports them once the pipe drains, and exits on SIGTERM', async (t) => {
  const moat = await startUnread(t, 'listener 0 127.0.0.1\nallow_anonymous true\n');
  const floodMs = await flood(moat.port, FLOOD_LINES);
  const rtt = await roundTrip(moat.port);
  t.diagnostic(`flood of ${FLOOD_LINES} SUBSCRIBEs: ${Math.round(floodMs)} ms; round trip with the pipe full: ${rtt.toFixed(1)} ms`);
  assert.ok(rtt < 1000, `round trip took ${rtt} ms`);

  const lines = moat.read('stderr');
  const report = (): Record | undefined => records(lines.filter((l) => l.includes('"log_lines_dropped"')))[0];
  await until(() => report() !== undefined, 10_000, 'the log_lines_dropped line');
  const dropped = report();
  assert.ok(dropped !== undefined, `no log_lines_dropped line in ${lines.length} lines`);
  assert.equal(dropped['destination'], 'stderr');
  assert.match(String(dropped['msg']), /^dropped \d+ log lines: stderr did not take them fast enough$/);
  // Every SUBSCRIBE logged one line: each was either written or counted as dropped.
  const count = dropped['count'] as number;
  const written = records(lines).filter((r) => r['event'] === 'subscribe' && String(r['clientId']).startsWith('flood-')).length;
  assert.ok(count >= FLOOD_LINES - written && count <= FLOOD_LINES - written + 10, `dropped ${count}, written ${written} of ${FLOOD_LINES} subscribe lines`);
  assert.ok(count > FLOOD_LINES / 2, `only ${count} dropped`);

  const { ms, code } = await stopTimed(moat.child, 5000);
  assert.equal(code, 0);
  assert.ok(ms < 1000, `exit took ${ms} ms once the pipe was read`);
});

test('stdout and stderr both pipes nobody reads: SIGTERM still exits within a few seconds', async (t) => {
  const moat = await startUnread(t, 'listener 0 127.0.0.1\nallow_anonymous true\nlog_dest stdout\nlog_dest stderr\n');
  await flood(moat.port, FLOOD_LINES);
  const rtt = await roundTrip(moat.port);
  assert.ok(rtt < 1000, `round trip took ${rtt} ms`);
  const { ms, code } = await stopTimed(moat.child, 6000);
  t.diagnostic(`exit ${Math.round(ms)} ms after SIGTERM with both pipes full`);
  assert.equal(code, 0);
  // It waits up to 2 s for the destinations to take what they hold, then leaves without it.
  assert.ok(ms < 4000, `exit took ${ms} ms`);
});

test('log_dest file on a FIFO whose reader stops reading (a stalled disk): the broker keeps answering, counts and reports the drops, and exits on SIGTERM', async (t) => {
  const fifoDir = mkdtempSync(join(dir, 'fifo-'));
  chmodSync(fifoDir, 0o755);
  const fifo = join(fifoDir, 'moat.log');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  // moat opens the FIFO at start-up; both opens wait for each other.
  const reader = open(fifo, 'r');
  const moat = await startUnread(t, `listener 0 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_dest file ${fifo}\n`);
  const handle = await reader;
  t.after(() => handle.close());
  moat.read('stderr');
  await flood(moat.port, FLOOD_LINES);
  const rtt = await roundTrip(moat.port);
  assert.ok(rtt < 1000, `round trip took ${rtt} ms`);

  // Read the FIFO now: once the broker's buffer for it has drained, the drop report follows.
  const stream = handle.createReadStream({ autoClose: false });
  let text = '';
  stream.on('data', (chunk) => (text += chunk.toString()));
  await until(() => text.includes('"log_lines_dropped"'), 10_000, 'the log_lines_dropped line in the FIFO');
  const report = records(text.split('\n')).find((r) => r['event'] === 'log_lines_dropped' && r['destination'] === fifo);
  assert.ok(report !== undefined, `no drop report in ${text.length} bytes read from the FIFO`);
  assert.ok((report['count'] as number) > FLOOD_LINES / 2);

  // Stalled again, then SIGTERM: the broker leaves what the FIFO does not take.
  stream.pause();
  await flood(moat.port, FLOOD_LINES);
  const { ms, code } = await stopTimed(moat.child, 5000);
  stream.destroy();
  assert.equal(code, 0);
  assert.ok(ms < 4000, `exit took ${ms} ms`);
});

test('a log file that cannot be opened is refused at start-up, naming the file', async () => {
  const file = join(dir, 'bad-log.conf');
  writeFileSync(file, 'listener 0 127.0.0.1\nallow_anonymous true\nlog_dest file /etc/passwd/not-a-dir/moat.log\n');
  const { command, args } = moatCommand(['broker', '-c', file]);
  const result = spawnSync(command, args, { cwd: repoRoot, encoding: 'utf8', timeout: 10_000 });
  assert.equal(result.status, 2);
  assert.match(result.stderr, /^moat broker: cannot open the log file \/etc\/passwd\/not-a-dir\/moat\.log \(log_dest file\): ENOTDIR/);
});
