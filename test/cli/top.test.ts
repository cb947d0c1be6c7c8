// `moat top` in a real terminal (tmux) against a running moat and Debian's Mosquitto: the captured
// screen shows the connections against the limit with the bar in the right colour and the numbers
// the test made, `q` quits with code 0 and gives the terminal back; a refused connect is told in words.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { formatPasswordHash, hashPassword } from '../../src/auth/password-file.js';
import { makeTestCertificates } from '../kit/certs.js';
import { connectMqttJs } from '../kit/mqttjs.js';
import { moatCommand, moatListener, startMoat } from '../kit/moat.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { startTmux, type TmuxSession } from '../kit/tmux.js';
import { renderTop } from '../../src/cli/top-render.js';
import { BrokerView } from '../../src/cli/broker-view.js';

/** The escape sequence tmux's capture-pane -e writes for a yellow (33) or red (31) foreground. */
const YELLOW = '\u001b[33m';
const RED = '\u001b[31m';

/** Runs `moat top args` with no terminal and collects what it prints (for the refusal cases). */
function runTopPlain(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const { command, args: argv } = moatCommand(['top', ...args]);
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

let clientNumber = 0;

async function connectMany(broker: { host: string; port: number }, n: number): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  for (let i = clientNumber; i < clientNumber + n; i++) {
    const { client } = await connectMqttJs(broker, { protocolVersion: 4, clientId: `top-test-${i}` });
    await client.subscribeAsync(`top/test/${i}`);
    clients.push(client);
  }
  clientNumber += n;
  return clients;
}

/** The line of the screen that starts with `label`. */
function lineOf(screen: string, label: string): string {
  return screen.split('\n').find((l) => l.startsWith(label)) ?? '';
}

/** Quits with `key` and checks that top exited 0 and gave the terminal back: main screen, cursor shown. */
async function quitWithQ(tmux: TmuxSession, key = 'q'): Promise<string> {
  assert.equal(await tmux.display('#{alternate_on} #{cursor_flag}'), '1 0', 'while running: the alternate screen, no cursor');
  await tmux.sendKeys(key);
  const screen = await tmux.waitFor((s) => s.includes('[exited 0]'), `"[exited 0]" after ${key}`);
  assert.doesNotMatch(screen, /Connections/, 'the top screen is gone (alternate screen left)');
  assert.equal(await tmux.display('#{alternate_on} #{cursor_flag}'), '0 1', 'after: the main screen, the cursor shown again');
  return screen;
}

describe('moat top in tmux', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  test('against moat with max_connections 10 and 9 clients (8 + top itself): the bar is yellow at 90%, red at 100%, the numbers match, a refusal is counted by reason, q quits', async (t) => {
    const moat = await startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous true\nmax_connections 10\nsys_interval 1\n' });
    cleanups.push(() => moat.stop());
    const clients = await connectMany(moat, 8);
    cleanups.push(() => Promise.all(clients.map((c) => c.endAsync())));
    // moat publishes its configured limit at $SYS/broker/clients/limit, so no --limit here.
    const { command, args } = moatCommand(['top', moat.url]);
    const tmux = await startTmux(command, args);
    cleanups.push(() => tmux.kill());

    const screen = await tmux.waitFor((s) => /Connections\s+9 of 10/.test(s) && /Subscriptions\s+9\b/.test(s), 'connections 9 of 10 and 9 subscriptions (8 + top\'s $SYS/#)');
    t.diagnostic(`moat top against moat:\n${screen.trimEnd()}`);
    assert.match(screen, /^moat top {2}mqtt:\/\/127\.0\.0\.1:\d+ {2}moat version \d+\.\d+\.\d+ {2}up /m);
    assert.match(lineOf(screen, 'Connections'), /9 of 10 {3}peak 9 {3}sessions 9/);
    assert.match(screen, /\[\|{54} {6}\] 90% {3}limit from \$SYS/, 'a 60-cell bar 90% full (54 cells)');
    assert.match(lineOf(screen, 'Dropped'), /Dropped\s+0\s+none by reason/);
    assert.match(lineOf(screen, 'Refused'), /Refused\s+0\s+none by reason/);
    assert.match(screen, /pass --admin URL/);
    const colours = await tmux.capture(true);
    const barLine = colours.split('\n').find((l) => l.includes('[||||')) ?? '';
    assert.ok(barLine.includes(`${YELLOW}[${'|'.repeat(54)}`), `the bar is yellow: ${JSON.stringify(barLine)}`);

    // A tenth client fills the limit: the bar turns red at 100%.
    clients.push(...(await connectMany({ host: moat.host, port: moat.port }, 1)));
    await tmux.waitFor((s) => /Connections\s+10 of 10/.test(s), 'connections 10 of 10');
    const red = await tmux.waitFor((s) => s.split('\n').some((l) => l.includes(`${RED}[${'|'.repeat(60)}]`)), 'a red full bar', 15_000, true);
    assert.match(red, /100%/);
    // The next one is refused (0x97), and the screen counts it by reason.
    await assert.rejects(connectMqttJs(moat, { protocolVersion: 5, clientId: 'one-too-many' }, 5000));
    await tmux.waitFor((s) => /^Refused\s+1\s+max_connections 1$/m.test(s), 'the refusal by reason');
    await quitWithQ(tmux);
  });

  test('against Mosquitto with --limit 10 and 9 clients: the bar is yellow at 90%, the numbers match, q quits', async (t) => {
    const mosquitto = await startMosquitto({ config: 'sys_interval 1\nmax_connections 10\n' });
    cleanups.push(() => mosquitto.stop());
    const clients = await connectMany(mosquitto, 8);
    cleanups.push(() => Promise.all(clients.map((c) => c.endAsync())));
    const { command, args } = moatCommand(['top', '-h', mosquitto.host, '-p', String(mosquitto.port), '--limit', '10']);
    const tmux = await startTmux(command, args);
    cleanups.push(() => tmux.kill());

    const screen = await tmux.waitFor((s) => /Connections\s+9 of 10/.test(s) && /Subscriptions\s+9\b/.test(s), 'connections 9 of 10 and 9 subscriptions (8 + top\'s $SYS/#)');
    t.diagnostic(`moat top against Mosquitto:\n${screen.trimEnd()}`);
    assert.match(screen, /mosquitto version 2\.\d+\.\d+/);
    assert.match(screen, /\[\|{54} {6}\] 90% {3}limit from --limit/);
    assert.match(lineOf(screen, 'Bytes'), /Bytes\s+in .+\/s {3}out .+\/s {3}total in /, 'Mosquitto publishes byte counters');
    assert.match(lineOf(screen, 'Refused'), /not published by this broker/);
    const colours = await tmux.capture(true);
    assert.ok(colours.includes(`${YELLOW}[${'|'.repeat(54)}`), 'the bar is yellow');
    await quitWithQ(tmux);
  });

  test('without a known limit the screen says so instead of drawing a bar; Ctrl-C quits too', async () => {
    const mosquitto = await startMosquitto({ config: 'sys_interval 1\n' });
    cleanups.push(() => mosquitto.stop());
    const { command, args } = moatCommand(['top', mosquitto.url]);
    const tmux = await startTmux(command, args);
    cleanups.push(() => tmux.kill());
    const screen = await tmux.waitFor((s) => /Connections\s+1\b/.test(s), 'connections 1');
    assert.match(screen, /limit unknown, pass --limit/);
    assert.doesNotMatch(screen, /\[\|/);
    await quitWithQ(tmux, 'C-c');
  });
});

describe('moat top while things change', () => {
  test('a resized terminal is drawn again at its new width; a broker that goes away is shown as reconnecting, and q still quits', async (t) => {
    const moat = await startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous true\nmax_connections 4\nsys_interval 1\n' });
    t.after(() => moat.stop());
    const { command, args } = moatCommand(['top', moat.url]);
    const tmux = await startTmux(command, args);
    t.after(() => tmux.kill());
    await tmux.waitFor((s) => /Connections\s+1 of 4/.test(s), 'connections 1 of 4');
    await tmux.resize(80, 24);
    // 80 columns leave a 40-cell bar: 1 of 4 is 10 cells.
    const narrow = await tmux.waitFor((s) => s.includes(`[${'|'.repeat(10)}${' '.repeat(30)}] 25%`), 'the 40-cell bar at 80 columns');
    assert.ok(narrow.split('\n').every((line) => line.length <= 80));
    await moat.stop();
    const lost = await tmux.waitFor((s) => /connection lost \(/.test(s), 'the reconnecting status');
    assert.match(lost.replace(/\n/g, ' '), /connection lost \(.+\); reconnecting; the figures below are from before/);
    await quitWithQ(tmux);
  });
});

describe('moat top with moat\'s admin API', () => {
  const TOKEN = 'top-test-admin-token-0123456789';

  test('--admin fills in the busiest clients from /api/clients; a wrong token (MOAT_ADMIN_TOKEN) is reported in words on the screen', async (t) => {
    const moat = await startMoat({ config: `listener 0 127.0.0.1\nallow_anonymous true\nmax_connections 10\nsys_interval 1\nadmin_listener 0\nadmin_token ${TOKEN}\n` });
    t.after(() => moat.stop());
    const listener = await moatListener(moat, 'admin-http');
    const admin = `http://${listener.host}:${listener.port}`;
    const busy = await connectMqttJs(moat, { clientId: 'busy-sensor' });
    t.after(() => busy.client.endAsync());
    const quiet = await connectMqttJs(moat, { clientId: 'quiet-sensor' });
    t.after(() => quiet.client.endAsync());
    for (let i = 0; i < 30; i++) await busy.client.publishAsync('sensors/busy', String(i), { qos: 1 });
    await quiet.client.publishAsync('sensors/quiet', 'x', { qos: 1 });

    const good = moatCommand(['top', moat.url, '--admin', admin, '--admin-token', TOKEN]);
    const tmux = await startTmux(good.command, good.args);
    t.after(() => tmux.kill());
    const screen = await tmux.waitFor((s) => /^busy-sensor /m.test(s) && /^quiet-sensor /m.test(s) && /Connections\s+3 of 10/.test(s), 'the busiest clients table');
    t.diagnostic(`moat top with --admin:\n${screen.trimEnd()}`);
    assert.match(screen, /Busiest clients \(by messages, 3 connected\)/, 'busy-sensor, quiet-sensor and top itself');
    assert.match(screen, /^CLIENT ID +USER +ADDRESS +V +UP +SUBS +INFL +QUEUED +DROP +MSG IN +MSG OUT$/m);
    assert.match(screen, /^busy-sensor +- +127\.0\.0\.1 +5 +\d\dh \d\dm \d\ds +0 +0 +0 +0 +30 +0$/m);
    assert.match(screen, /^quiet-sensor +- +127\.0\.0\.1 +5 +\d\dh \d\dm \d\ds +0 +0 +0 +0 +1 +0$/m);
    const rows = screen.split('\n');
    assert.ok(rows.findIndex((l) => l.startsWith('busy-sensor')) < rows.findIndex((l) => l.startsWith('quiet-sensor')), 'busiest first');
    assert.match(lineOf(screen, 'Connections'), /3 of 10 {3}peak 3 {3}sessions 3/);
    assert.match(screen, /limit from admin API/);
    assert.match(screen, /capacity alert: off/);
    await quitWithQ(tmux);

    const bad = moatCommand(['top', moat.url, '--admin', admin]);
    const wrong = await startTmux(bad.command, bad.args, undefined, { MOAT_ADMIN_TOKEN: 'wrong-token-0123456789' });
    t.after(() => wrong.kill());
    const refused = await wrong.waitFor((s) => s.includes('refused the token'), 'the 401 in words');
    assert.match(refused.replace(/\n {2}/g, ' '), /admin API http:\/\/127\.0\.0\.1:\d+ refused the token \(HTTP 401\)\. Pass the broker's admin token with --admin-token or MOAT_ADMIN_TOKEN\./);
    assert.match(refused, /Connections\s+3 of 10/, '$SYS still drives the rest of the screen');
    await quitWithQ(wrong);
  });
});

describe('moat top refusals in words', () => {
  test('a refused CONNECT: bad user name or password (0x86), not authorised (0x87), quota exceeded (0x97); exit code = the reason code', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'moat-top-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const passwords = join(dir, 'passwd');
    await writeFile(passwords, `alice:${formatPasswordHash(await hashPassword('alice-pw', { iterations: 1000 }))}\n`);
    const moat = await startMoat({ config: `listener 0 127.0.0.1\npassword_file ${passwords}\n` });
    t.after(() => moat.stop());
    const badPassword = await runTopPlain([moat.url, '-V', '5', '-u', 'alice', '-P', 'wrong']);
    assert.match(badPassword.stderr, /^Connection error: Bad User Name or Password \(0x86\): The server did not accept the user name or password\./);
    assert.equal(badPassword.code, 0x86);
    const anonymous = await runTopPlain([moat.url, '-V', '5']);
    assert.match(anonymous.stderr, /^Connection error: Not authorized \(0x87\): /i);
    assert.equal(anonymous.code, 0x87);

    const full = await startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous true\nmax_connections 1\n' });
    t.after(() => full.stop());
    const { client } = await connectMqttJs(full, { protocolVersion: 4 });
    t.after(() => client.endAsync());
    const quota = await runTopPlain([full.url, '-V', '5']);
    assert.match(quota.stderr, /^Connection error: Quota exceeded \(0x97\): /i);
    assert.equal(quota.code, 0x97);
  });

  test('TLS: a server certificate from a CA top was not given is explained, and with --cafile top connects (its screen over TLS)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'moat-top-tls-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const files = makeTestCertificates(dir);
    await mkdir(join(dir, 'other'));
    const other = makeTestCertificates(join(dir, 'other'), 'another CA');
    const moat = await startMoat({ config: `listener 0 127.0.0.1\nallow_anonymous true\nsys_interval 1\ncafile ${files.ca}\ncertfile ${files.cert}\nkeyfile ${files.key}\n` });
    t.after(() => moat.stop());
    const untrusted = await runTopPlain(['-h', 'localhost', '-p', String(moat.port), '--cafile', other.ca]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /Could not connect to mqtts:\/\/localhost:\d+: .*not signed by a CA this client trusts: pass the CA that signed it/);
    const { command, args } = moatCommand(['top', '-h', 'localhost', '-p', String(moat.port), '--cafile', files.ca]);
    const tmux = await startTmux(command, args);
    t.after(() => tmux.kill());
    await tmux.waitFor((s) => /^moat top {2}mqtts:\/\/localhost:\d+ {2}moat /m.test(s) && /Connections\s+1\b/.test(s), 'the screen over TLS');
    await quitWithQ(tmux);
  });

  test('connection refused (nothing listening) and Mosquitto at max_connections (closed with no CONNACK) are explained; exit 1', async (t) => {
    const mosquitto = await startMosquitto({ config: 'max_connections 1\n' });
    t.after(() => mosquitto.stop());
    await mosquitto.stop();
    const refused = await runTopPlain(['-h', mosquitto.host, '-p', String(mosquitto.port)]);
    assert.match(refused.stderr, /ECONNREFUSED.*Is the broker running, and on that port\?/);
    assert.equal(refused.code, 1);

    const full = await startMosquitto({ config: 'max_connections 1\n' });
    t.after(() => full.stop());
    // Fill Mosquitto up until it turns a client away: in some runs it admitted one client past max_connections.
    for (let i = 0; i < 3; i++) {
      const attempt = await connectMqttJs(full, { protocolVersion: 4 }, 2000).catch(() => undefined);
      if (attempt === undefined) break;
      t.after(() => attempt.client.endAsync());
    }
    const silent = await runTopPlain([full.url]);
    assert.match(silent.stderr, /closed the connection before sending CONNACK\. Mosquitto does this when it is at max_connections/);
    assert.equal(silent.code, 1);
  });
});

describe('moat top flags', () => {
  test('--limit and --interval at their edges are refused before connecting, naming the flag', async () => {
    for (const [flag, value, words] of [
      ['--limit', '0', 'a whole number from 1 to 2147483647'],
      ['--limit', '2147483648', 'a whole number from 1 to 2147483647'],
      ['--limit', '1.5', 'a whole number from 1 to 2147483647'],
      ['--interval', '0', 'a number from 0.1 to 3600'],
      ['--interval', '3601', 'a number from 0.1 to 3600'],
      ['--interval', 'soon', 'a number from 0.1 to 3600'],
    ] as const) {
      // Port 1 is closed: an accepted flag would fail later, with ECONNREFUSED instead.
      const run = await runTopPlain(['-p', '1', flag, value]);
      assert.equal(run.code, 1, `${flag} ${value}`);
      assert.equal(run.stderr, `Error: ${flag} must be ${words}, got "${value}".\n`);
    }
    const accepted = await runTopPlain(['-p', '1', '--limit', '2147483647', '--interval', '3600']);
    assert.match(accepted.stderr, /ECONNREFUSED/, 'the largest values are accepted');
  });
});

describe('renderTop (pure)', () => {
  test('thresholds: green below 80%, yellow from 80%, red from 95%', () => {
    const paint = (style: string, text: string): string => `<${style}>${text}</${style}>`;
    const screenAt = (connected: number): string => {
      const view = new BrokerView('mqtt://x:1', 100);
      view.onSys('$SYS/broker/clients/connected', String(connected), 0);
      return renderTop(view.snapshot(0), { now: 0, width: 120, height: 40, paint }).join('\n');
    };
    assert.match(screenAt(79), /<green>\[/);
    assert.match(screenAt(80), /<yellow>\[/);
    assert.match(screenAt(94), /<yellow>\[/);
    assert.match(screenAt(95), /<red>\[/);
    assert.match(screenAt(2_147_483_647), /<red>\[\|{60}\]/, 'past the limit the bar stays full');
  });

  test('rates come from counter deltas over the window; drops and refusals are listed by reason, largest first', () => {
    const view = new BrokerView('mqtt://x:1');
    view.onSys('$SYS/broker/messages/received', '100', 0);
    view.onSys('$SYS/broker/messages/received', '400', 10_000);
    view.onSys('$SYS/broker/publish/messages/dropped', '5', 10_000);
    view.onSys('$SYS/broker/publish/messages/dropped/queue_full', '4', 10_000);
    view.onSys('$SYS/broker/publish/messages/dropped/expired', '1', 10_000);
    view.onSys('$SYS/broker/clients/refused/limit/max_connections', '3', 10_000);
    const lines = renderTop(view.snapshot(10_000), { now: 10_000, width: 120, height: 40 });
    assert.match(lines.find((l) => l.startsWith('Messages')) ?? '', /in 30\.0\/s/);
    assert.match(lines.find((l) => l.startsWith('Dropped')) ?? '', /Dropped\s+5 {2}queue_full 4 {2}expired 1/);
    assert.match(lines.find((l) => l.startsWith('Refused')) ?? '', /Refused\s+3 {2}max_connections 3/);
    assert.ok(lines.every((l) => l.length <= 120));
    assert.ok(renderTop(view.snapshot(10_000), { now: 10_000, width: 20, height: 3 }).every((l) => l.length <= 20));
  });

  test('the admin API fills in the busiest clients', () => {
    const view = new BrokerView('mqtt://x:1');
    view.state.admin.configured = true;
    view.onAdmin(undefined, {
      total: 1,
      clients: [{ id: 'sensor-1', username: 'alice', address: '127.0.0.1:5000', listener: 'mqtt', protocolVersion: 5, connectedSince: new Date(0).toISOString(), keepalive: 60, subscriptions: 2, inflight: 1, queued: 3, dropped: 0, messagesIn: 1200, messagesOut: 45 }],
    });
    view.onAdmin(undefined, {
      total: 2,
      clients: [
        { id: 'sensor-1', username: 'alice', address: '127.0.0.1:5000', listener: 'mqtt', protocolVersion: 5, connectedSince: new Date(0).toISOString(), keepalive: 60, subscriptions: 2, inflight: 1, queued: 3, dropped: 0, messagesIn: 1200, messagesOut: 45 },
        { id: 'a-very-long-client-id-that-does-not-fit', username: null, address: null, listener: 'ws', protocolVersion: 4, connectedSince: 'not a date', keepalive: 0, subscriptions: 0, inflight: 0, queued: 0, dropped: 0, messagesIn: 0, messagesOut: 0 },
      ],
    });
    const lines = renderTop(view.snapshot(65_000), { now: 65_000, width: 120, height: 40 });
    assert.ok(lines.some((l) => /^a-very-long-client-id-~\s+-\s+-\s+4\s+-\s+0/.test(l)), 'no user, no address, a bad date and a long id: dashes and a cut');
    assert.ok(lines.some((l) => /^sensor-1\s+alice\s+127\.0\.0\.1:5000\s+5\s+00h 01m 05s\s+2\s+1\s+3\s+0\s+1,200\s+45$/.test(l)), lines.join('\n'));
  });
});
