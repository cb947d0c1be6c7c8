// ciphers_tls1.3 (the TLS 1.3 suites a listener offers) and dhparamfile (the DH parameters of the
// DHE ciphers of TLS 1.2; without it, well-known ones as strong as the key), checked with openssl s_client and mosquitto_pub against moat and
// Debian's Mosquitto 2.0.11.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runMosquittoPub } from '../kit/clients.js';
import { makeTestCertificates } from '../kit/certs.js';
import { moatCommand } from '../kit/moat.js';
import { spawnTracked } from '../kit/process.js';
import type { RunningBroker } from '../kit/broker.js';
import { brokerTargets } from '../kit/targets.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-tls-ciphers-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const files = makeTestCertificates(dir);

// DHE needs an RSA (or DSA) server key: the test certificates are EC, so an RSA one from the same CA.
const openssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rsa.key', '-out', 'rsa.csr', '-subj', '/CN=localhost']);
openssl(['x509', '-req', '-in', 'rsa.csr', '-CA', files.ca, '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', 'rsa.pem', '-days', '2', '-extfile', join(dir, 'ext.cnf')]);
// RFC 7919's ffdhe3072 group (made at once, unlike fresh parameters): stronger than the 2048 bits
// both brokers pick for a 2048-bit RSA key on their own, so the file is seen to be used.
openssl(['genpkey', '-genparam', '-algorithm', 'DH', '-pkeyopt', 'dh_param:ffdhe3072', '-out', 'dhparam.pem']);
for (const f of ['rsa.pem', 'rsa.key', 'dhparam.pem']) chmodSync(join(dir, f), 0o644);
const rsa = { cert: join(dir, 'rsa.pem'), key: join(dir, 'rsa.key') };
const dhparam = join(dir, 'dhparam.pem');

interface Handshake {
  readonly ok: boolean;
  readonly output: string;
}

/** openssl s_client to the broker with `args`; ok when the handshake completed. */
async function handshake(broker: RunningBroker, args: readonly string[]): Promise<Handshake> {
  const client = await spawnTracked('openssl', ['s_client', '-connect', `127.0.0.1:${broker.port}`, '-servername', 'localhost', '-CAfile', files.ca, ...args], { name: 's_client' });
  const result = await client.exited;
  const output = client.logs.join('\n');
  return { ok: result.code === 0 && /Verify return code: 0 \(ok\)/.test(output), output };
}

/** mosquitto_pub over TLS with its default ciphers. */
async function publishes(broker: RunningBroker): Promise<boolean> {
  const out = await runMosquittoPub(['-h', 'localhost', '-p', String(broker.port), '--cafile', files.ca, '-t', 'tls/x', '-m', 'x'], { check: false });
  return out.code === 0;
}

for (const target of brokerTargets()) {
  describe(`${target.name}: ciphers_tls1.3`, () => {
    test('only the listed TLS 1.3 suite is negotiated; TLS 1.2 keeps its default ciphers', { timeout: 30_000 }, async () => {
      const broker = await target.start({ extraConfig: `certfile ${files.cert}\nkeyfile ${files.key}\nciphers_tls1.3 TLS_CHACHA20_POLY1305_SHA256` });
      try {
        const listed = await handshake(broker, ['-tls1_3', '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256']);
        assert.equal(listed.ok, true, listed.output);
        assert.match(listed.output, /Cipher is TLS_CHACHA20_POLY1305_SHA256/);
        const other = await handshake(broker, ['-tls1_3', '-ciphersuites', 'TLS_AES_128_GCM_SHA256']);
        assert.equal(other.ok, false, other.output);
        const tls12 = await handshake(broker, ['-tls1_2']);
        assert.equal(tls12.ok, true, tls12.output);
        assert.match(tls12.output, /Cipher is ECDHE-ECDSA-/);
        assert.equal(await publishes(broker), true);
      } finally {
        await broker.stop();
      }
    });
  });

  describe(`${target.name}: dhparamfile`, () => {
    // Debian's Mosquitto 2.0.11 (OpenSSL 3) reads the file but keeps OpenSSL's automatic 2048-bit
    // parameters: moat uses the file, as mosquitto.conf(5) describes.
    for (const withParams of [true, false]) {
      const bits = withParams && target.name === 'moat' ? 3072 : 2048;
      test(`${withParams ? 'with a 3072-bit file' : 'without it'}, a TLS 1.2 DHE-only client connects with a ${bits}-bit DH key`, { timeout: 30_000 }, async () => {
        const broker = await target.start({ extraConfig: `certfile ${rsa.cert}\nkeyfile ${rsa.key}${withParams ? `\ndhparamfile ${dhparam}` : ''}` });
        try {
          const dhe = await handshake(broker, ['-tls1_2', '-cipher', 'DHE-RSA-AES128-GCM-SHA256']);
          assert.equal(dhe.ok, true, dhe.output);
          assert.match(dhe.output, /Cipher is DHE-RSA-AES128-GCM-SHA256/);
          assert.match(dhe.output, new RegExp(`Server Temp Key: DH, ${bits} bits`), dhe.output);
          assert.equal(await publishes(broker), true, 'ECDHE clients connect either way');
        } finally {
          await broker.stop();
        }
      });
    }
  });
}

test('moat: a dhparamfile without DH parameters stops the broker, naming the file and how to make one', { timeout: 30_000 }, async () => {
  const bad = join(dir, 'not-dh.pem');
  writeFileSync(bad, 'garbage\n');
  const config = join(dir, 'bad-dh.conf');
  writeFileSync(config, `listener 0 127.0.0.1\nallow_anonymous true\ncertfile ${rsa.cert}\nkeyfile ${rsa.key}\ndhparamfile ${bad}\n`);
  const { command, args } = moatCommand(['broker', '-c', config]);
  const moat = await spawnTracked(command, args, { name: 'moat' });
  assert.equal((await moat.exited).code, 1, moat.formatLogs());
  assert.ok(moat.logs.some((l) => l.includes('"listen_failed"') && l.includes(`dhparamfile ${bad} holds no PEM DH parameters (make them with \\"openssl dhparam -out ${bad} 2048\\")`)), moat.formatLogs());
});
