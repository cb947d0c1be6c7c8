// use_identity_as_username / use_subject_as_username on a TLS listener WITHOUT require_certificate.
// Mosquitto 2.0.11 starts with it, asks no client for a certificate in the handshake (OpenSSL's
// SSL_VERIFY_NONE), and so refuses every client, certificate or not, anonymous allowed or not, with
// "bad user name or password". moat does the same (and warns at startup). Real mosquitto_pub clients,
// with and without a client certificate, MQTT 5 and 3.1.1, against both brokers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { makeClientCertificate, makeTestCertificates } from '../kit/certs.js';
import { runMosquittoPub } from '../kit/clients.js';
import { brokerTargets } from '../kit/targets.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-cert-optional-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const files = makeTestCertificates(dir);
const alice = makeClientCertificate(dir, files, 'alice');

for (const target of brokerTargets()) {
  for (const option of ['use_identity_as_username', 'use_subject_as_username'] as const) {
    describe(`${target.name}: ${option} true without require_certificate`, () => {
      test('every client is refused with Bad user name or password, with or without a certificate', { timeout: 30_000 }, async () => {
        const broker = await target.start({ extraConfig: `cafile ${files.ca}\ncertfile ${files.cert}\nkeyfile ${files.key}\n${option} true` });
        try {
          const tls = ['-h', 'localhost', '-p', String(broker.port), '--cafile', files.ca];
          const withCertificate = [...tls, '--cert', alice.cert, '--key', alice.key];
          for (const [version, code] of [['5', 134], ['311', 4]] as const) {
            for (const [who, args] of [['alice with her certificate', withCertificate], ['a client with no certificate', tls], ['a user name and password', [...tls, '-u', 'alice', '-P', 'x']]] as const) {
              const out = await runMosquittoPub(['-d', ...args, '-V', version, '-t', 'cert/optional', '-m', 'x'], { check: false });
              assert.notEqual(out.code, 0, `${who} (MQTT ${version}) got in`);
              assert.ok(out.stdout.some((l) => l.endsWith(`received CONNACK (${code})`)), `${who} (MQTT ${version}):\n${out.stdout.join('\n')}\n${out.stderr.join('\n')}`);
            }
          }
          if (target.name === 'moat') {
            assert.ok(
              broker.logs.some((l) => l.includes('takes user names from client certificates but does not require one') && l.includes('"level":40')),
              broker.logs.join('\n'),
            );
          }
        } finally {
          await broker.stop();
        }
      });
    });
  }
}
