// Client certificates as identities, with real clients against a real moat process: certificates
// made by `moat certs`, a require_certificate listener with use_identity_as_username (the CN is the
// user name the ACL sees, a CONNECT user name/password is ignored, no certificate = no TLS session),
// one with use_subject_as_username (the RFC 2253 subject is the user name), and Eclipse Paho for
// Python connecting with tls_set to a server-authenticated and a client-certificate listener.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runMosquittoPub, runMosquittoSub, startMosquittoSub, type MosquittoSub } from '../kit/clients.js';
import { moatCommand, startMoat, type RunningMoat } from '../kit/moat.js';
import { sourcePath } from '../kit/paths.js';
import { spawnTracked, type TrackedProcess } from '../kit/process.js';
import { until } from '../kit/wait.js';

/** Debian's python, which has paho; the `python3` on PATH may be another one without it. */
const PYTHON = '/usr/bin/python3';
// tsc does not copy .py files to build/: run the one in the source tree.
const PAHO_TLS = sourcePath('test', 'interop', 'paho_tls.py');

type Who = 'alice' | 'bob';

let root: string;
let certDir: string;
let ca: string;
const clientFiles = (who: Who): { cert: string; key: string } => ({ cert: join(certDir, `${who}.crt`), key: join(certDir, `${who}.key`) });

/** require_certificate + use_identity_as_username, ACL: alice → alice/#, bob → bob/#. */
let identity: RunningMoat;
/** require_certificate + use_subject_as_username, ACL: "CN=alice" → subject/#, "alice" → alice/#. */
let subject: RunningMoat;
/** Server-authenticated TLS only, allow_anonymous true. */
let anonymous: RunningMoat;

const subs: MosquittoSub[] = [];
const scripts: TrackedProcess[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'moat-tls-identity-'));
  certDir = join(root, 'certs');
  // The real CLI, as a user would run it.
  const { command, args } = moatCommand(['certs', '--dir', certDir, '--client', 'alice', '--client', 'bob']);
  const certs = await spawnTracked(command, args, { name: 'moat certs' });
  assert.equal((await certs.exited).code, 0, certs.formatLogs());
  ca = join(certDir, 'ca.crt');

  const tlsLines = `cafile ${ca}\ncertfile ${join(certDir, 'server.crt')}\nkeyfile ${join(certDir, 'server.key')}\n`;
  const identityAcl = join(root, 'identity.acl');
  writeFileSync(identityAcl, 'user alice\ntopic readwrite alice/#\nuser bob\ntopic readwrite bob/#\n');
  // "CN=alice" is what the subject of alice.crt is (checked in the subject test): a section for the
  // full subject, and one for the bare CN that must NOT apply on this listener.
  const subjectAcl = join(root, 'subject.acl');
  writeFileSync(subjectAcl, 'user CN=alice\ntopic readwrite subject/#\nuser alice\ntopic readwrite alice/#\n');

  [identity, subject, anonymous] = await Promise.all([
    startMoat({ config: `listener 0 127.0.0.1\n${tlsLines}require_certificate true\nuse_identity_as_username true\nacl_file ${identityAcl}\n` }),
    startMoat({ config: `listener 0 127.0.0.1\n${tlsLines}require_certificate true\nuse_subject_as_username true\nacl_file ${subjectAcl}\n` }),
    startMoat({ config: `listener 0 127.0.0.1\nallow_anonymous true\n${tlsLines}` }),
  ]);
});

after(async () => {
  await Promise.all([...subs.map((s) => s.stop()), ...scripts.map((s) => s.kill())]);
  await Promise.all([identity, subject, anonymous].map((b) => b?.stop()));
  rmSync(root, { recursive: true, force: true });
});

/** mosquitto_pub/sub flags for `broker` by host name (the server certificate names localhost), with `who`'s certificate. */
function tls(broker: RunningMoat, who?: Who): string[] {
  const args = ['-h', 'localhost', '-p', String(broker.port), '--cafile', ca];
  if (who !== undefined) args.push('--cert', clientFiles(who).cert, '--key', clientFiles(who).key);
  return args;
}

async function subscribe(args: string[]): Promise<MosquittoSub> {
  const sub = await startMosquittoSub(args);
  subs.push(sub);
  return sub;
}

/** The user name moat logged for the client `clientId` ("client_connected"). */
async function loggedUsername(broker: RunningMoat, clientId: string): Promise<unknown> {
  const find = (): Record<string, unknown> | undefined =>
    broker.logs
      .filter((line) => line.includes('"client_connected"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((record) => record['clientId'] === clientId);
  await until(() => find() !== undefined, 5000, `a client_connected log line for ${clientId}`);
  return find()?.['username'];
}

/**
 * Alice publishes to a topic her ACL forbids, MQTT 5 QoS 1: the PUBACK says Not authorized (135);
 * mosquitto_pub only warns on stderr and still exits 0. Once this returns, the broker has decided.
 */
async function refusedPublish(args: string[], topic: string, message: string): Promise<void> {
  const out = await runMosquittoPub(['-d', ...args, '-V', '5', '-q', '1', '-t', topic, '-m', message]);
  assert.ok(out.stdout.some((l) => / received PUBACK \(Mid: 1, RC:135\)$/.test(l)), out.stdout.join('\n'));
  assert.deepEqual(out.stderr, ['Warning: Publish 1 failed: Not authorized.']);
}

describe('use_identity_as_username: the certificate CN is the user name', () => {
  test('alice’s certificate publishes to and receives alice/x, logged in as alice', { timeout: 20_000 }, async () => {
    const sub = await subscribe([...tls(identity, 'alice'), '-t', 'alice/#', '-v']);
    await runMosquittoPub([...tls(identity, 'alice'), '-i', 'tls-id-alice-pub', '-q', '1', '-t', 'alice/x', '-m', 'from alice']);
    assert.deepEqual(await sub.waitForMessages(1), ['alice/x from alice']);
    assert.equal(await loggedUsername(identity, 'tls-id-alice-pub'), 'alice');
  });

  // What Debian's mosquitto_sub 2.0.11 does with a SUBACK whose only code is a failure: print the
  // code (-d), say so on stderr, disconnect, and exit 0 (not an error exit).
  for (const [version, code] of [['5', 135], ['311', 128]] as const) {
    test(`alice subscribing to bob/# gets a SUBACK refusal (${code}, MQTT ${version}); mosquitto_sub says so on stderr and exits 0`, { timeout: 20_000 }, async () => {
      const out = await runMosquittoSub(['-d', ...tls(identity, 'alice'), '-V', version, '-t', 'bob/#', '-W', '5']);
      assert.equal(out.timedOut, false);
      assert.equal(out.code, 0);
      assert.ok(out.stdout.includes(`Subscribed (mid: 1): ${code}`), out.stdout.join('\n'));
      assert.deepEqual(out.stderr, ['All subscription requests were denied.']);
    });
  }

  test('what alice publishes to bob/x does not reach bob’s subscriber; what bob publishes does', { timeout: 20_000 }, async () => {
    const sub = await subscribe([...tls(identity, 'bob'), '-t', 'bob/#', '-v']);
    await refusedPublish(tls(identity, 'alice'), 'bob/x', 'from alice');
    // Alice's PUBACK came back before bob publishes: had her message been routed, it would be first.
    await runMosquittoPub([...tls(identity, 'bob'), '-q', '1', '-t', 'bob/x', '-m', 'from bob']);
    assert.deepEqual(await sub.waitForMessages(1), ['bob/x from bob']);
    assert.deepEqual(sub.messages, ['bob/x from bob']);
  });

  test('a client without a certificate is refused in the TLS handshake, before any MQTT', { timeout: 20_000 }, async () => {
    const out = await runMosquittoPub(['-d', ...tls(identity), '-i', 'tls-id-nocert', '-t', 'alice/x', '-m', 'x'], { check: false });
    assert.equal(out.code, 7, 'MOSQ_ERR_CONN_LOST');
    const output = [...out.stdout, ...out.stderr].join('\n');
    assert.match(output, /certificate required/);
    assert.doesNotMatch(output, /received CONNACK/);
    assert.equal(identity.logs.some((l) => l.includes('"tls-id-nocert"')), false, 'moat never saw its CONNECT');
  });

  test('-u bob -P ... with alice’s certificate is ignored: the client is alice and reaches only alice/#', { timeout: 20_000 }, async () => {
    const asBob = [...tls(identity, 'alice'), '-u', 'bob', '-P', 'not-checked'];
    const bobSub = await subscribe([...tls(identity, 'bob'), '-t', 'bob/#', '-v']);
    const aliceSub = await subscribe([...tls(identity, 'alice'), '-t', 'alice/#', '-v']);

    await refusedPublish([...asBob, '-i', 'tls-id-alice-as-bob'], 'bob/x', 'alice as bob');
    assert.equal(await loggedUsername(identity, 'tls-id-alice-as-bob'), 'alice');
    await runMosquittoPub([...asBob, '-q', '1', '-t', 'alice/x', '-m', 'alice as bob']);
    assert.deepEqual(await aliceSub.waitForMessages(1), ['alice/x alice as bob']);

    const refused = await runMosquittoSub(['-d', ...asBob, '-V', '5', '-t', 'bob/#', '-W', '5']);
    assert.ok(refused.stdout.includes('Subscribed (mid: 1): 135'), refused.stdout.join('\n'));

    await runMosquittoPub([...tls(identity, 'bob'), '-q', '1', '-t', 'bob/x', '-m', 'from bob']);
    assert.deepEqual(await bobSub.waitForMessages(1), ['bob/x from bob']);
    assert.deepEqual(bobSub.messages, ['bob/x from bob']);
  });
});

describe('use_subject_as_username: the RFC 2253 subject is the user name', () => {
  test('alice’s certificate (subject CN=alice) gets the "user CN=alice" section, not the "user alice" one', { timeout: 20_000 }, async () => {
    // `moat certs --client alice` writes a subject with the CN only; RFC 2253 form: "CN=alice".
    assert.equal(new X509Certificate(readFileSync(clientFiles('alice').cert)).subject, 'CN=alice');

    const sub = await subscribe([...tls(subject, 'alice'), '-t', 'subject/#', '-v']);
    await runMosquittoPub([...tls(subject, 'alice'), '-i', 'tls-subject-alice', '-q', '1', '-t', 'subject/x', '-m', 'by subject']);
    assert.deepEqual(await sub.waitForMessages(1), ['subject/x by subject']);
    assert.equal(await loggedUsername(subject, 'tls-subject-alice'), 'CN=alice');

    const refused = await runMosquittoSub(['-d', ...tls(subject, 'alice'), '-V', '5', '-t', 'alice/#', '-W', '5']);
    assert.ok(refused.stdout.includes('Subscribed (mid: 1): 135'), refused.stdout.join('\n'));
  });
});

describe('paho-mqtt (python) with tls_set', () => {
  async function runPaho(broker: RunningMoat, topic: string, protocol: '311' | '5', who?: Who): Promise<TrackedProcess> {
    const args = ['-u', PAHO_TLS, 'localhost', String(broker.port), topic, '--ca', ca, '--protocol', protocol, '--timeout', '10'];
    if (who !== undefined) args.push('--cert', clientFiles(who).cert, '--key', clientFiles(who).key);
    const script = await spawnTracked(PYTHON, args, { name: `paho_tls.py ${topic} (MQTT ${protocol})` });
    scripts.push(script);
    await script.exited;
    return script;
  }

  for (const protocol of ['311', '5'] as const) {
    test(`MQTT ${protocol}: server-authenticated TLS, anonymous: paho publishes to itself and receives it`, { timeout: 20_000 }, async () => {
      const script = await runPaho(anonymous, 'paho/tls', protocol);
      assert.equal(script.exitResult?.code, 0, script.formatLogs());
      assert.deepEqual(script.stdout, ['Connected', 'Subscribed to paho/tls', 'Received paho/tls: hello over tls from paho']);
    });

    test(`MQTT ${protocol}: alice’s certificate on the use_identity_as_username listener: alice/paho round trip, bob/paho refused`, { timeout: 20_000 }, async () => {
      const ok = await runPaho(identity, 'alice/paho', protocol, 'alice');
      assert.equal(ok.exitResult?.code, 0, ok.formatLogs());
      assert.deepEqual(ok.stdout, ['Connected', 'Subscribed to alice/paho', 'Received alice/paho: hello over tls from paho']);

      const refused = await runPaho(identity, 'bob/paho', protocol, 'alice');
      assert.equal(refused.exitResult?.code, 3, refused.formatLogs());
      assert.deepEqual(refused.stderr, [`Subscription refused: ${protocol === '5' ? 135 : 128}`]);
    });
  }

  test('without a client certificate paho cannot connect to the require_certificate listener', { timeout: 20_000 }, async () => {
    const script = await runPaho(identity, 'alice/paho', '311');
    assert.notEqual(script.exitResult?.code, 0, script.formatLogs());
    assert.equal(script.stdout.includes('Subscribed to alice/paho'), false, script.formatLogs());
    assert.match(script.stderr.join('\n'), /CERTIFICATE_REQUIRED/, script.formatLogs());
  });
});
