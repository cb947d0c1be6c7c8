// `moat debug URL`: the real CLI against real brokers and sockets, one failure per step. Each case
// checks the failing step, the words of its diagnosis and the exit code (10 DNS ... 15 payloads).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect, type MqttClient } from '../../src/client/index.js';
import type { DebugReport } from '../../src/debug/run.js';
import type { RunningBroker } from '../kit/broker.js';
import { makeTestCa, type TestCa } from '../kit/ca.js';
import { runMosquittoPub } from '../kit/clients.js';
import { moatCommand, startMoat } from '../kit/moat.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { spawnTracked, type TrackedProcess } from '../kit/process.js';
import { until } from '../kit/wait.js';

const brokers: RunningBroker[] = [];
const cleanups: Array<() => Promise<unknown> | unknown> = [];
let dir: string;
let ca: TestCa;
let passwd: string;
let acl: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moat-debug-'));
  chmodSync(dir, 0o755); // Mosquitto reads the files as its own user
  ca = makeTestCa(mkdtempSync(join(dir, 'ca-')));
  passwd = join(dir, 'passwd');
  const made = await moat(['passwd', '-c', '-b', passwd, 'alice', 'right password']);
  assert.equal(made.code, 0, made.stderr);
  chmodSync(passwd, 0o644);
  acl = join(dir, 'acl');
  writeFileSync(acl, 'user alice\ntopic readwrite clients/alice/#\n');
  chmodSync(acl, 0o644);
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  await Promise.all(brokers.map((b) => b.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `moat ARGS` to the end; its exit code, stdout and stderr. */
async function moat(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { command, args: argv } = moatCommand(args);
  const child = await spawnTracked(command, argv, { name: `moat ${args[0] ?? ''}` });
  const exit = await child.exited;
  return { code: exit.code, stdout: child.stdout.join('\n'), stderr: child.stderr.join('\n') };
}

/** `moat debug ARGS --json`: the report, checked against the exit code. */
async function debug(args: string[]): Promise<DebugReport> {
  const run = await moat(['debug', ...args, '--json']);
  let report: DebugReport;
  try {
    report = JSON.parse(run.stdout) as DebugReport;
  } catch {
    assert.fail(`moat debug ${args.join(' ')} printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  assert.equal(run.code, report.exitCode, 'the exit code is the one in the report');
  return report;
}

/** The failing step, its diagnosis and fix, and the exit code. */
function expectFailure(report: DebugReport, stage: string, exitCode: number, words: RegExp): void {
  const why = JSON.stringify(report, null, 2);
  assert.equal(report.failed, stage, why);
  assert.equal(report.exitCode, exitCode, why);
  assert.match(report.diagnosis ?? '', words, why);
  assert.ok((report.fix ?? '').length > 10, why);
  const failing = report.stages.find((s) => s.stage === stage);
  assert.equal(failing?.status, 'failed');
  // Every step before it passed (or did not apply), every step after it did not run.
  const at = report.stages.findIndex((s) => s.stage === stage);
  for (const s of report.stages.slice(0, at)) assert.ok(s.status === 'ok' || s.status === 'skipped', `${s.stage}: ${s.status}`);
  for (const s of report.stages.slice(at + 1)) assert.equal(s.status, 'skipped', s.stage);
}

/** A server certificate from the test CA with these SANs and dates (openssl ca, serverAuth). */
function serverCert(name: string, sans: string, dates?: { start: string; end: string } | { days: number }): { cert: string; key: string } {
  const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: ca.dir, stdio: 'ignore' });
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=moat debug test']);
  writeFileSync(join(ca.dir, `${name}.ext`), `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
  const validity = dates === undefined ? [] : 'days' in dates ? ['-days', String(dates.days)] : ['-startdate', dates.start, '-enddate', dates.end];
  run(['ca', '-batch', '-config', 'ca.cnf', '-notext', '-extfile', `${name}.ext`, '-in', `${name}.csr`, '-out', `${name}.pem`, ...validity]);
  for (const f of [`${name}.pem`, `${name}.key`]) chmodSync(join(ca.dir, f), 0o644);
  return { cert: join(ca.dir, `${name}.pem`), key: join(ca.dir, `${name}.key`) };
}

async function tlsMoat(files: { cert: string; key: string }, extra = ''): Promise<RunningBroker> {
  const broker = await startMoat({ config: `listener 0 127.0.0.1\ncertfile ${files.cert}\nkeyfile ${files.key}\nallow_anonymous true\n${extra}` });
  brokers.push(broker);
  return broker;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

test('a port nothing listens on: TCP refused, exit 11', async () => {
  const port = await freePort();
  const report = await debug([`mqtt://127.0.0.1:${port}`, '--timeout', '2000']);
  expectFailure(report, 'tcp', 11, /Connection refused .*nothing listens on port/);
  assert.equal(report.stages[0]?.status, 'ok');
});

test('a listener whose accept queue is full drops the SYN: TCP timeout, exit 11', async () => {
  // Debian's python3 (not a pyenv shim, whose exec chain outlives a kill), listen(0), never accepts: the kernel queues one connection (ours, below), then drops
  // every further SYN, which is what a filtering firewall looks like from the client.
  const child: TrackedProcess = await spawnTracked('/usr/bin/python3', ['-c', [
    'import socket, sys, time',
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)",
    'print(s.getsockname()[1], flush=True)',
    'time.sleep(120)',
  ].join('\n')], { name: 'python listen(0)' });
  await until(() => child.stdout.length > 0, 5000, 'the port from python');
  const port = Number(child.stdout[0]);
  const filler: Socket = tcpConnect(port, '127.0.0.1');
  filler.on('error', () => undefined); // reset when python goes
  await new Promise((resolve) => filler.once('connect', resolve));
  const report = await debug([`mqtt://127.0.0.1:${port}`, '--timeout', '1000']).finally(async () => {
    filler.destroy();
    await child.kill();
  });
  expectFailure(report, 'tcp', 11, /No answer from 127\.0\.0\.1:\d+ within 1000 ms: a firewall drops the packets/);
});

test('a socket that accepts and never answers MQTT: no CONNACK, exit 13', async () => {
  const silent = createServer((socket) => socket.on('error', () => undefined));
  const port = await listen(silent);
  const report = await debug([`mqtt://127.0.0.1:${port}`, '--timeout', '1000']);
  expectFailure(report, 'connect', 13, /no CONNACK came within 1000 ms: whatever listens on that port does not speak MQTT/);
});

test('an unknown host name: NXDOMAIN in words, exit 10', async () => {
  const report = await debug(['mqtt://no-such-host.invalid:1883', '--timeout', '3000']);
  expectFailure(report, 'dns', 10, /no-such-host\.invalid does not exist in DNS \(NXDOMAIN/);
});

test('TLS: an expired certificate and one for another host, exit 12', async () => {
  const expired = await tlsMoat(serverCert('expired', 'DNS:localhost,IP:127.0.0.1', { start: '20200101000000Z', end: '20200102000000Z' }));
  const old = await debug([`mqtts://localhost:${expired.port}`, '--cafile', ca.ca]);
  expectFailure(old, 'tls', 12, /The certificate expired \d+ days ago \(2020-01-02\)/);
  assert.match(old.fix ?? '', /renew the certificate/);

  const elsewhere = await tlsMoat(serverCert('elsewhere', 'DNS:broker.example'));
  const wrong = await debug([`mqtts://127.0.0.1:${elsewhere.port}`, '--cafile', ca.ca]);
  expectFailure(wrong, 'tls', 12, /The certificate does not name 127\.0\.0\.1/);
  assert.match(wrong.fix ?? '', /moat certs --san 127\.0\.0\.1/);
});

test('a listener that requires a client certificate: moat and Mosquitto, exit 12 without one, 0 with one', async () => {
  const device = ca.issue('device-1');
  const tls = `cafile ${ca.ca}\ncertfile ${ca.cert}\nkeyfile ${ca.key}\nrequire_certificate true\n`;
  const moatBroker = await startMoat({ config: `listener 0 127.0.0.1\nallow_anonymous true\n${tls}` });
  brokers.push(moatBroker);
  // startMosquitto adds its own plain listener; the TLS one is this second listener.
  const port = await freePort();
  const mosquitto = await startMosquitto({ config: `listener ${port} 127.0.0.1\n${tls}` });
  brokers.push(mosquitto);
  for (const tlsPort of [moatBroker.port, port]) {
    const url = `mqtts://localhost:${tlsPort}`;
    const without = await debug([url, '--cafile', ca.ca]);
    expectFailure(without, 'tls', 12, /the listener requires a client certificate \(require_certificate true\) and none was sent/);
    assert.match(without.fix ?? '', /--cert and --key/);
    const withCert = await debug([url, '--cafile', ca.ca, '--cert', device.cert, '--key', device.key]);
    assert.equal(withCert.failed, undefined, JSON.stringify(withCert, null, 2));
  }
});

test('a wrong password: moat 0x86, Mosquitto return code 5 / 0x87, exit 13', async () => {
  const moatBroker = await startMoat({ config: `listener 0 127.0.0.1\nallow_anonymous false\npassword_file ${passwd}\n` });
  brokers.push(moatBroker);
  const refused = await debug([moatBroker.url, '-u', 'alice', '-P', 'wrong password']);
  expectFailure(refused, 'connect', 13, /CONNACK 0x86 Bad User Name or Password/);
  const fine = await debug([moatBroker.url, '-u', 'alice', '-P', 'right password']);
  assert.equal(fine.exitCode, 0, JSON.stringify(fine, null, 2));

  const mosquitto = await startMosquitto({ config: `allow_anonymous false\npassword_file ${passwd}\n` });
  brokers.push(mosquitto);
  const v311 = await debug([mosquitto.url, '-u', 'alice', '-P', 'wrong password', '-V', 'mqttv311']);
  expectFailure(v311, 'connect', 13, /CONNACK return code 5 Connection Refused, not authorized\..*Mosquitto answers a wrong password this way too/);
  const v5 = await debug([mosquitto.url, '-u', 'alice', '-P', 'wrong password']);
  expectFailure(v5, 'connect', 13, /CONNACK 0x87 Not authorized\..*Mosquitto answers a wrong password this way too/);
});

test('an ACL that denies the probe topic: moat refuses it, Mosquitto refuses the v5 PUBLISH and drops the 3.1.1 one silently, exit 14', async () => {
  const auth = `allow_anonymous false\npassword_file ${passwd}\nacl_file ${acl}\n`;
  const moatBroker = await startMoat({ config: `listener 0 127.0.0.1\n${auth}` });
  brokers.push(moatBroker);
  const denied = await debug([moatBroker.url, '-u', 'alice', '-P', 'right password']);
  expectFailure(denied, 'roundtrip', 14, /The broker refused the SUBSCRIBE to moat\/debug\/[0-9a-f]{16}: SUBACK 0x87 Not authorized.*The ACL does not let user "alice" read/);
  assert.match(denied.fix ?? '', /user alice\ntopic readwrite moat\/debug\/#/);
  // With a probe topic the ACL grants, the same user passes.
  const granted = await debug([moatBroker.url, '-u', 'alice', '-P', 'right password', '--probe-prefix', 'clients/alice']);
  assert.equal(granted.exitCode, 0, JSON.stringify(granted, null, 2));

  const mosquitto = await startMosquitto({ config: auth });
  brokers.push(mosquitto);
  // Mosquitto 2.0 grants the SUBSCRIBE either way; to an MQTT 5 client it refuses the PUBLISH
  // with PUBACK 0x87, to a 3.1.1 client (no reason codes in PUBACK) it drops it without a word.
  const v5 = await debug([mosquitto.url, '-u', 'alice', '-P', 'right password', '-V', 'mqttv5', '--timeout', '1500']);
  expectFailure(v5, 'roundtrip', 14, /The broker refused the PUBLISH to moat\/debug\/[0-9a-f]{16}: PUBACK 0x87 Not authorized.*The ACL does not let user "alice" write/);
  assert.equal(v5.stages[4]?.details['grantedQos'], 1, 'the SUBSCRIBE was granted');
  const v311 = await debug([mosquitto.url, '-u', 'alice', '-P', 'right password', '-V', 'mqttv311', '--timeout', '1500']);
  expectFailure(v311, 'roundtrip', 14, /never came back within 1500 ms: the publish or the subscription was silently denied by the ACL/);
});

test('a full broker: moat CONNACK 0x97, Mosquitto closes without CONNACK, exit 13', async () => {
  const moatBroker = await startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous true\nmax_connections 1\n' });
  brokers.push(moatBroker);
  const holder: MqttClient = await connect(moatBroker.url, { reconnect: false, clientId: 'holder-moat' });
  cleanups.push(() => holder.end().catch(() => undefined));
  const full = await debug([moatBroker.url]);
  expectFailure(full, 'connect', 13, /CONNACK 0x97 Quota exceeded/);
  assert.match(full.fix ?? '', /max_connections/);

  // Mosquitto 2.0 lets max_connections + 1 clients in (it compares the count before adding the
  // new one), so two hold a listener with max_connections 1.
  const mosquitto = await startMosquitto({ config: 'max_connections 1\n' });
  brokers.push(mosquitto);
  for (const id of ['holder-mosquitto-1', 'holder-mosquitto-2']) {
    const other: MqttClient = await connect(mosquitto.url, { reconnect: false, clientId: id });
    cleanups.push(() => other.end().catch(() => undefined));
  }
  const closed = await debug([mosquitto.url, '-V', 'mqttv5']);
  expectFailure(closed, 'connect', 13, /closed the connection without answering CONNECT\. Mosquitto does this when the listener is at max_connections/);
});

test('healthy over TLS with --topic and --schema: all six steps ok, exit 0; an invalid payload: exit 15', async () => {
  // Valid for 400 days: a certificate that expires within 30 is a warning, not ok.
  const broker = await tlsMoat(serverCert('healthy', 'DNS:localhost,IP:127.0.0.1', { days: 400 }));
  const schema = join(dir, 'reading.schema.json');
  writeFileSync(schema, JSON.stringify({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    required: ['temperature'],
    properties: { temperature: { type: 'number' } },
  }));
  const pub = (topic: string, message: string): Promise<unknown> =>
    runMosquittoPub(['-h', '127.0.0.1', '-p', String(broker.port), '--cafile', ca.ca, '-t', topic, '-m', message, '-r', '-q', '1']);
  // Retained, so the sample sees them as soon as it subscribes.
  await pub('sensors/good/1', '{"temperature": 21.5}');
  const url = `mqtts://127.0.0.1:${broker.port}`;
  const healthy = await debug([url, '--cafile', ca.ca, '--topic', 'sensors/good/#', '--schema', schema, '--sample-seconds', '1']);
  assert.equal(healthy.exitCode, 0, JSON.stringify(healthy, null, 2));
  assert.deepEqual(healthy.stages.map((s) => `${s.stage}:${s.status}`), ['dns:ok', 'tcp:ok', 'tls:ok', 'connect:ok', 'roundtrip:ok', 'payload:ok']);
  assert.equal(healthy.stages[2]?.details['protocol'], 'TLSv1.3');
  assert.equal(healthy.stages[5]?.details['passed'], 1);

  await pub('sensors/mixed/1', '{"temperature": 20}');
  await pub('sensors/mixed/2', '{"temperature": "warm"}');
  const mixed = await debug([url, '--cafile', ca.ca, '--topic', 'sensors/mixed/#', '--schema', schema, '--sample-seconds', '1']);
  expectFailure(mixed, 'payload', 15, /1 of 2 messages on sensors\/mixed\/# failed the check \(1 passed\)\. The first, on sensors\/mixed\/2 .*does not match the schema: payload\/temperature must be number/);

  // The text checklist: one line per step with its mark and time, then the diagnosis and fix.
  const text = await moat(['debug', url, '--cafile', ca.ca, '--topic', 'sensors/mixed/#', '--schema', schema, '--sample-seconds', '1']);
  assert.equal(text.code, 15);
  assert.match(text.stdout, /✓ DNS resolution +\d+ ms/);
  assert.match(text.stdout, /✓ TLS handshake +\d+ ms +TLSv1\.3/);
  assert.match(text.stdout, /✗ Payload check +\d+ ms +1 of 2 failed/);
  assert.match(text.stdout, /Diagnosis: 1 of 2 messages/);
  assert.match(text.stdout, /Fix: /);
});

test('usage errors exit 2', async () => {
  const scheme = await moat(['debug', 'http://127.0.0.1:1883']);
  assert.equal(scheme.code, 2);
  assert.match(scheme.stderr, /not http:\/\//);
  const unknown = await moat(['debug', 'mqtt://127.0.0.1:1883', '--no-such-flag']);
  assert.equal(unknown.code, 2);
  const schemaWithoutTopic = await moat(['debug', 'mqtt://127.0.0.1:1883', '--schema', '/nonexistent.json']);
  assert.equal(schemaWithoutTopic.code, 2);
  assert.match(schemaWithoutTopic.stderr, /--schema checks the payloads of --topic/);
  const badSchema = join(dir, 'bad.schema.json');
  writeFileSync(badSchema, '{"type": "no-such-type"}');
  const bad = await moat(['debug', 'mqtt://127.0.0.1:1883', '--topic', 't', '--schema', badSchema]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /is not a valid JSON Schema/);
});
