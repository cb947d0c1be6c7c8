// `moat bench tls-connect` against moat processes with `moat certs` certificates of each key type,
// server-authenticated and with a client certificate: the handshake rates, the one-at-a-time CPU
// per handshake of client and broker, and the server key as the client saw it. Tiny counts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BenchOptionError, resolveBenchOptions, runBench, type BenchResult } from '../../src/bench/index.js';
import { generateCerts, type GeneratedCerts, type KeyType } from '../../src/certs/generate.js';
import { startMoat } from '../kit/moat.js';

let root: string;
const certs = new Map<KeyType, GeneratedCerts>();

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'moat-bench-tls-'));
  for (const keyType of ['ec', 'rsa'] as const) certs.set(keyType, await generateCerts({ dir: join(root, keyType), keyType, clients: ['bench-device'] }));
});

after(() => rmSync(root, { recursive: true, force: true }));

const value = (r: BenchResult, name: string): number => r.values[name]?.value ?? Number.NaN;

for (const [keyType, label] of [
  ['ec', 'ECDSA P-256'],
  ['rsa', 'RSA-2048'],
] as const) {
  for (const clientCert of [false, true]) {
    test(`tls-connect, ${label} server${clientCert ? ' and client certificate' : ''}: rates, CPU per handshake of each side, the key the client saw`, { timeout: 30_000 }, async () => {
      const files = certs.get(keyType);
      assert.ok(files);
      const client = files.clients[0];
      assert.ok(client);
      const mutual = clientCert ? 'require_certificate true\nuse_identity_as_username true\n' : '';
      const moat = await startMoat({ config: `listener 0 127.0.0.1\nallow_anonymous true\ncafile ${files.ca.cert}\ncertfile ${files.server.cert}\nkeyfile ${files.server.key}\n${mutual}` });
      let r: BenchResult;
      try {
        r = await runBench('tls-connect', {
          url: `mqtts://127.0.0.1:${moat.port}`,
          cafile: files.ca.cert,
          ...(clientCert ? { cert: client.cert, key: client.key } : {}),
          duration: 0.4,
          concurrency: 2,
          handshakes: 10,
          pid: moat.pid,
        });
      } finally {
        await moat.stop();
      }
      assert.equal(r.details['server key'], label);
      assert.equal(r.settings['client certificate'], clientCert ? label : 'none');
      assert.equal(r.details['failed'], 0);
      assert.equal(r.details['one-at-a-time connections'], 20);
      assert.ok(value(r, 'full handshakes/s') > 0 && value(r, 'resumed handshakes/s') > 0);
      for (const side of ['client', 'broker']) {
        for (const kind of ['full', 'resumed']) {
          const ms = value(r, `${side} CPU per ${kind} handshake`);
          assert.ok(Number.isFinite(ms) && ms >= 0, `${side} ${kind}: ${ms}`);
        }
      }
      assert.ok(value(r, 'client CPU per full handshake') > 0);
      assert.deepEqual(r.warnings.filter((w) => /resumed/.test(w)), [], 'every resumed connection resumed');
    });
  }
}

test('tls-connect --handshakes: 0 skips the one-at-a-time connections; 0 and 100,000 are the edges; --cert needs --key', async () => {
  assert.equal(resolveBenchOptions('tls-connect').handshakes, 200);
  assert.equal(resolveBenchOptions('tls-connect', { handshakes: 0 }).handshakes, 0);
  assert.equal(resolveBenchOptions('tls-connect', { handshakes: 100_000 }).handshakes, 100_000);
  for (const bad of [-1, 100_001, 1.5]) assert.throws(() => resolveBenchOptions('tls-connect', { handshakes: bad }), BenchOptionError);
  const files = certs.get('ec');
  assert.ok(files);
  assert.throws(() => resolveBenchOptions('tls-connect', { cert: files.server.cert }), /--cert and --key go together/);
  assert.throws(() => resolveBenchOptions('tls-connect', { cert: join(root, 'missing.crt'), key: files.server.key }), /--cert .*missing\.crt/);

  const moat = await startMoat({ config: `listener 0 127.0.0.1\nallow_anonymous true\ncertfile ${files.server.cert}\nkeyfile ${files.server.key}\n` });
  try {
    const r = await runBench('tls-connect', { url: `mqtts://127.0.0.1:${moat.port}`, cafile: files.ca.cert, duration: 0.3, concurrency: 1, handshakes: 0 });
    assert.equal(r.values['client CPU per full handshake'], undefined);
    assert.equal(r.details['server key'], undefined);
    assert.ok(value(r, 'full handshakes/s') > 0);
  } finally {
    await moat.stop();
  }
});
