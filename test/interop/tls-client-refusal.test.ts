// Client certificates refused on a require_certificate listener, against moat and Debian's
// Mosquitto with the same files: a certificate revoked through crlfile is refused, accepted again
// once SIGHUP loads a CRL that no longer lists it, refused again after the next one; an expired
// certificate and one from an unknown CA are refused. Mosquitto's OpenSSL answers those with the
// TLS alert (what openssl s_client prints is the reference); Node cannot send it (see
// src/transport/tls-context.ts), so moat's answer is the reason in its log: tls_client_refused
// with OpenSSL's verify code and the client's address. CA, certificates and CRLs come from
// `openssl ca` (test/kit/ca.ts).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunningBroker } from '../kit/broker.js';
import { makeTestCa, type ClientFiles, type TestCa } from '../kit/ca.js';
import { runMosquittoPub, startMosquittoSub, type MosquittoSub } from '../kit/clients.js';
import { startMoat } from '../kit/moat.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { spawnTracked } from '../kit/process.js';
import { until } from '../kit/wait.js';

let root: string;
let ca: TestCa;
let good: ClientFiles;
let revoked: ClientFiles;
let expired: ClientFiles;
let stranger: ClientFiles;
/** A CRL listing `revoked`, and one made before it was revoked. */
let revoking: string;
let clean: string;

interface Target {
  readonly name: 'moat' | 'mosquitto';
  readonly broker: RunningBroker;
  /** The TLS listener's port. */
  readonly port: number;
  /** The crlfile this broker reads; the test replaces it. */
  readonly crlfile: string;
  /** Log lines that say a SIGHUP reload happened. */
  readonly reloadLine: RegExp;
}

const targets: Target[] = [];
const subs: MosquittoSub[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'moat-tls-refusal-'));
  chmodSync(root, 0o755); // Mosquitto reads the files as its own user
  ca = makeTestCa(mkdtempSync(join(root, 'ca-')));
  good = ca.issue('good');
  revoked = ca.issue('revoked');
  expired = ca.issue('expired', { start: '20200101000000Z', end: '20200102000000Z' });
  stranger = makeTestCa(mkdtempSync(join(root, 'other-')), 'other CA').issue('stranger');
  clean = ca.crl(join(ca.dir, 'clean.crl.pem'));
  ca.revoke(revoked.cert);
  revoking = ca.crl(join(ca.dir, 'revoking.crl.pem'));

  const tls = (crlfile: string): string =>
    `cafile ${ca.ca}\ncertfile ${ca.cert}\nkeyfile ${ca.key}\nrequire_certificate true\ncrlfile ${crlfile}\n`;
  const live = (name: string): string => {
    const file = join(ca.dir, `${name}.live.crl.pem`);
    copyFileSync(revoking, file);
    return file;
  };
  const moatCrl = live('moat');
  const moat = await startMoat({ config: `listener 0 127.0.0.1\nallow_anonymous true\n${tls(moatCrl)}` });
  targets.push({ name: 'moat', broker: moat, port: moat.port, crlfile: moatCrl, reloadLine: /"event":"tls_reloaded"/ });
  // startMosquitto adds its own plain listener; the TLS one is this second listener.
  const mosquittoCrl = live('mosquitto');
  const port = await freePort();
  const mosquitto = await startMosquitto({ config: `listener ${port} 127.0.0.1\n${tls(mosquittoCrl)}` });
  targets.push({ name: 'mosquitto', broker: mosquitto, port, crlfile: mosquittoCrl, reloadLine: /Reloading config/ });
});

after(async () => {
  await Promise.all(subs.map((s) => s.stop()));
  await Promise.all(targets.map((t) => t.broker.stop()));
  rmSync(root, { recursive: true, force: true });
});

const clientArgs = (target: Target, who: ClientFiles): string[] => ['-h', 'localhost', '-p', String(target.port), '--cafile', ca.ca, '--cert', who.cert, '--key', who.key];

async function publish(target: Target, who: ClientFiles, topic: string, message: string): Promise<number | null> {
  return (await runMosquittoPub([...clientArgs(target, who), '-q', '1', '-t', topic, '-m', message], { check: false })).code;
}

/** SIGHUP, then wait until the broker says it reloaded. */
async function reload(target: Target): Promise<void> {
  const before = target.broker.logs.filter((l) => target.reloadLine.test(l)).length;
  process.kill(target.broker.pid, 'SIGHUP');
  await until(() => target.broker.logs.filter((l) => target.reloadLine.test(l)).length > before, 5000, `${target.name} to reload`);
}

/** Runs `attempt` every 200 ms until it returns true; fails naming `what` after `ms`. */
async function eventually(attempt: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await attempt())) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** moat's tls_client_refused records so far. */
function refusals(target: Target): Record<string, unknown>[] {
  return target.broker.logs.filter((l) => l.includes('"tls_client_refused"')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

for (const name of ['moat', 'mosquitto'] as const) {
  const target = (): Target => {
    const found = targets.find((t) => t.name === name);
    assert.ok(found);
    return found;
  };

  describe(`${name}: crlfile`, () => {
    test('a revoked certificate is refused; after SIGHUP with a CRL that does not list it, it is accepted; the next SIGHUP revokes it again', { timeout: 60_000 }, async () => {
      const t = target();
      const topic = `crl/${randomUUID()}`;
      const sub = await startMosquittoSub([...clientArgs(t, good), '-q', '1', '-t', topic]);
      subs.push(sub);

      const refusedBefore = refusals(t).length;
      assert.notEqual(await publish(t, revoked, topic, 'revoked 1'), 0, 'the revoked certificate is refused');
      assert.equal(await publish(t, good, topic, 'good 1'), 0);
      assert.deepEqual(await sub.waitForMessages(1), ['good 1'], 'nothing from the revoked certificate');
      if (t.name === 'moat') {
        const refusal = refusals(t).slice(refusedBefore);
        assert.deepEqual(refusal.map((r) => [r['code'], r['address']]), [['CERT_REVOKED', '127.0.0.1']]);
        assert.equal(refusal[0]?.['reason'], 'the client certificate is revoked by crlfile');
      }

      copyFileSync(clean, t.crlfile);
      await reload(t);
      // Mosquitto logs "Reloading config" before it reads the files: give it a moment.
      await eventually(async () => (await publish(t, revoked, topic, 'revoked 2')) === 0, 5000, 'the revoked certificate to be accepted');
      assert.deepEqual(await sub.waitForMessages(2), ['good 1', 'revoked 2']);

      copyFileSync(revoking, t.crlfile);
      await reload(t);
      await eventually(async () => (await publish(t, revoked, topic, 'revoked 3')) !== 0, 5000, 'the revoked certificate to be refused again');
      assert.equal(await publish(t, good, topic, 'good 2'), 0);
      assert.deepEqual(await sub.waitForMessages(3), ['good 1', 'revoked 2', 'good 2']);
    });
  });

  describe(`${name}: refused certificates`, () => {
    for (const [kind, who, alert, code] of [
      ['an expired certificate', () => expired, 'alert number 45', 'CERT_HAS_EXPIRED'],
      ['a certificate from an unknown CA', () => stranger, 'alert number 48', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ] as const) {
      test(`${kind} is refused${name === 'moat' ? ' and the reason is logged' : ' with the TLS alert'}`, { timeout: 30_000 }, async () => {
        const t = target();
        const refusedBefore = refusals(t).length;
        assert.notEqual(await publish(t, who(), `refused/${randomUUID()}`, 'x'), 0);
        if (t.name === 'moat') {
          await until(() => refusals(t).length > refusedBefore, 5000, 'a tls_client_refused line');
          const [refusal] = refusals(t).slice(refusedBefore);
          assert.equal(refusal?.['code'], code);
          assert.equal(refusal?.['address'], '127.0.0.1');
          assert.equal(refusal?.['listenerPort'], t.port);
          assert.equal(typeof refusal?.['remotePort'], 'number');
          return;
        }
        // The reference: what OpenSSL tells a client when the server's OpenSSL refuses its certificate.
        const client = await spawnTracked('openssl', ['s_client', '-ign_eof', '-connect', `127.0.0.1:${t.port}`, '-CAfile', ca.ca, '-cert', who().cert, '-key', who().key], { name: 'openssl s_client' });
        await client.exited;
        assert.ok(client.logs.some((l) => l.includes(alert)), client.formatLogs());
      });
    }
  });
}

test('moat does not start with a crlfile it cannot use, and names the file', { timeout: 20_000 }, async () => {
  const broken = join(ca.dir, 'broken.crl.pem');
  writeFileSync(broken, 'this is not a CRL\n');
  await assert.rejects(
    startMoat({ config: `listener 0 127.0.0.1\ncafile ${ca.ca}\ncertfile ${ca.cert}\nkeyfile ${ca.key}\nrequire_certificate true\ncrlfile ${broken}\nallow_anonymous true\n` }),
    (error: Error) => {
      assert.match(error.message, /"event":"listen_failed"/);
      assert.ok(error.message.includes(`crlfile ${broken} holds no PEM CRL`), error.message);
      return true;
    },
  );
});
