// `moat certs` key types against real TLS stacks: the default ECDSA P-256 chain and the
// `--key-type rsa` one, each on a require_certificate + use_identity_as_username listener of moat
// (and of Debian's Mosquitto, which reads the same lines), used by Debian's mosquitto_pub (OpenSSL)
// and by Eclipse Paho for Python (CPython's ssl). The CN of the client certificate is the user name
// the ACL sees.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunningBroker } from '../kit/broker.js';
import { runMosquittoPub } from '../kit/clients.js';
import { moatCommand, startMoat } from '../kit/moat.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { sourcePath } from '../kit/paths.js';
import { freePort } from '../kit/ports.js';
import { spawnTracked } from '../kit/process.js';
import { until } from '../kit/wait.js';

/** Debian's python, which has paho; the `python3` on PATH may be another one without it. */
const PYTHON = '/usr/bin/python3';
// tsc does not copy .py files to build/: run the one in the source tree.
const PAHO_TLS = sourcePath('test', 'interop', 'paho_tls.py');

let root: string;
const stops: Array<() => Promise<unknown>> = [];

before(() => {
  root = mkdtempSync(join(tmpdir(), 'moat-cert-key-types-'));
  // Mosquitto started as root reads the files as the mosquitto user.
  chmodSync(root, 0o755);
});

after(async () => {
  await Promise.all(stops.map((stop) => stop()));
  rmSync(root, { recursive: true, force: true });
});

const KEY_TYPES = [
  { flag: [], name: 'default (ECDSA P-256)', check: (c: X509Certificate) => assert.equal(c.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1') },
  { flag: ['--key-type', 'rsa'], name: 'rsa (RSA-2048)', check: (c: X509Certificate) => assert.equal(c.publicKey.asymmetricKeyDetails?.modulusLength, 2048) },
] as const;

for (const keyType of KEY_TYPES) {
  describe(`moat certs ${keyType.flag.join(' ') || '(no --key-type)'}: ${keyType.name}`, () => {
    let dir: string;
    const file = (name: string): string => join(dir, name);
    const targets: Array<{ name: string; broker: RunningBroker; port: number }> = [];

    before(async () => {
      dir = join(root, keyType.flag.length === 0 ? 'ec' : 'rsa');
      const { command, args } = moatCommand(['certs', '--dir', dir, ...keyType.flag, '--client', 'alice', '--client', 'bob']);
      const run = await spawnTracked(command, args, { name: 'moat certs' });
      assert.equal((await run.exited).code, 0, run.formatLogs());
      const acl = file('acl');
      writeFileSync(acl, 'user alice\ntopic readwrite alice/#\nuser bob\ntopic readwrite bob/#\n');
      // Readable by Mosquitto's user for this test only; moat certs writes keys 0600.
      for (const name of ['ca.crt', 'server.crt', 'server.key', 'acl']) chmodSync(file(name), 0o644);
      const lines = `cafile ${file('ca.crt')}\ncertfile ${file('server.crt')}\nkeyfile ${file('server.key')}\nrequire_certificate true\nuse_identity_as_username true\nacl_file ${acl}\n`;
      const moat = await startMoat({ config: `listener 0 127.0.0.1\n${lines}` });
      stops.push(() => moat.stop());
      targets.push({ name: 'moat', broker: moat, port: moat.port });
      const tlsPort = await freePort();
      const mosquitto = await startMosquitto({ config: `listener ${tlsPort} 127.0.0.1\n${lines}` });
      stops.push(() => mosquitto.stop());
      targets.push({ name: 'mosquitto', broker: mosquitto, port: tlsPort });
    });

    test('every key is of this type, and the chain verifies', () => {
      const ca = new X509Certificate(readFileSync(file('ca.crt')));
      for (const name of ['ca', 'server', 'alice', 'bob']) {
        const cert = new X509Certificate(readFileSync(file(`${name}.crt`)));
        keyType.check(cert);
        assert.equal(cert.verify(ca.publicKey), true, name);
      }
    });

    for (const target of ['moat', 'mosquitto']) {
      test(`${target}: mosquitto_pub with alice's certificate is user alice: alice/x is delivered, bob/x refused`, { timeout: 30_000 }, async () => {
        const t = targets.find((x) => x.name === target);
        assert.ok(t);
        const tls = ['-h', 'localhost', '-p', String(t.port), '--cafile', file('ca.crt'), '--cert', file('alice.crt'), '--key', file('alice.key')];
        const ok = await runMosquittoPub(['-d', ...tls, '-V', '5', '-q', '1', '-i', `kt-${target}-alice`, '-t', 'alice/x', '-m', 'hi'], { check: false });
        assert.equal(ok.code, 0, [...ok.stdout, ...ok.stderr].join('\n'));
        // 16: accepted, no matching subscribers.
        assert.ok(ok.stdout.some((l) => / received PUBACK \(Mid: 1, RC:16\)$/.test(l)), ok.stdout.join('\n'));
        // The ACL gives alice only alice/#: a refusal of bob/x proves the broker took her CN as the user name.
        const refused = await runMosquittoPub(['-d', ...tls, '-V', '5', '-q', '1', '-t', 'bob/x', '-m', 'hi'], { check: false });
        assert.ok(refused.stdout.some((l) => / received PUBACK \(Mid: 1, RC:135\)$/.test(l)), refused.stdout.join('\n'));
        if (target === 'moat') {
          const connected = (): string | undefined => t.broker.logs.find((l) => l.includes('"client_connected"') && l.includes(`"kt-${target}-alice"`));
          await until(() => connected() !== undefined, 5000, 'the client_connected log line');
          assert.equal((JSON.parse(connected() ?? '{}') as Record<string, unknown>)['username'], 'alice');
        }
      });

      for (const protocol of ['311', '5'] as const) {
        test(`${target}: paho (MQTT ${protocol}) with bob's certificate round-trips bob/paho`, { timeout: 30_000 }, async () => {
          const t = targets.find((x) => x.name === target);
          assert.ok(t);
          const args = ['-u', PAHO_TLS, 'localhost', String(t.port), 'bob/paho', '--ca', file('ca.crt'), '--cert', file('bob.crt'), '--key', file('bob.key'), '--protocol', protocol, '--timeout', '10'];
          const script = await spawnTracked(PYTHON, args, { name: `paho_tls.py ${target} ${protocol}` });
          stops.push(() => script.kill());
          assert.equal((await script.exited).code, 0, script.formatLogs());
          assert.deepEqual(script.stdout, ['Connected', 'Subscribed to bob/paho', 'Received bob/paho: hello over tls from paho']);
        });
      }
    }
  });
}
