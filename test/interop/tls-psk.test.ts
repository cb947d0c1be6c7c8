// TLS-PSK listeners (psk_hint, psk_file, use_identity_as_username) against moat and Debian's
// Mosquitto with the same config and files: mosquitto_pub/mosquitto_sub --psk connect (TLS 1.3,
// what they negotiate), the PSK identity is the user name the ACL sees, a wrong key and an unknown
// identity are refused in the handshake, SIGHUP re-reads the psk_file. openssl s_client is the
// TLS 1.2 client (mosquitto_pub ignores --tls-version with --psk) and the one that reaches the
// limits: a 256-byte hint and identity, a 512-byte key (libmosquitto sends at most 255 bytes of
// identity, so mosquitto_pub takes the 255-byte one).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunningBroker } from '../kit/broker.js';
import { runMosquittoPub, startMosquittoSub, type MosquittoSub } from '../kit/clients.js';
import { startMoat } from '../kit/moat.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { spawnTracked } from '../kit/process.js';
import { until } from '../kit/wait.js';

const HINT = 'h'.repeat(256);
const KEYS = {
  dev1: '0123456789abcdef0123456789abcdef',
  // A leading zero byte: kept by Mosquitto, mosquitto_pub and moat alike.
  dev2: '00ff11ee22dd33cc',
  dev3: 'c0ffee',
  [`${'i'.repeat(256)}`]: 'ab'.repeat(512),
  [`${'j'.repeat(255)}`]: '5a5a5a5a',
} as const;
const LONGEST = 'i'.repeat(256);
const LONG_FOR_LIBMOSQUITTO = 'j'.repeat(255);

/** MQTT 3.1.1 CONNECT (client id "psk", clean session, keep alive 60) and DISCONNECT. */
const CONNECT_THEN_DISCONNECT = Buffer.from('100f00044d5154540402003c0003707370e000', 'hex');
/** CONNACK, accepted. */
const CONNACK_ACCEPTED = '\x20\x02\x00\x00';

let root: string;
interface Target {
  readonly name: 'moat' | 'mosquitto';
  readonly broker: RunningBroker;
  readonly port: number;
  readonly pskFile: string;
  readonly reloadLine: RegExp;
}
const targets: Target[] = [];
const subs: MosquittoSub[] = [];

function writePskFile(file: string, identities: readonly string[]): void {
  const lines = identities.map((id) => `${id}:${KEYS[id as keyof typeof KEYS]}`);
  writeFileSync(`${file}.tmp`, `# identity:hexkey\n${lines.join('\n')}\n`);
  chmodSync(`${file}.tmp`, 0o644);
  renameSync(`${file}.tmp`, file); // a reload never reads half a file
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'moat-tls-psk-'));
  chmodSync(root, 0o755); // Mosquitto reads the files as its own user
  const acl = join(root, 'acl');
  writeFileSync(acl, 'user dev1\ntopic readwrite dev1/#\nuser dev2\ntopic readwrite dev2/#\n');
  chmodSync(acl, 0o644);
  const lines = (pskFile: string): string => `psk_hint ${HINT}\npsk_file ${pskFile}\nuse_identity_as_username true\nacl_file ${acl}\n`;
  for (const name of ['moat', 'mosquitto'] as const) {
    const pskFile = join(root, `${name}.psk`);
    writePskFile(pskFile, ['dev1', 'dev2', LONGEST, LONG_FOR_LIBMOSQUITTO]);
    if (name === 'moat') {
      const moat = await startMoat({ config: `listener 0 127.0.0.1\n${lines(pskFile)}` });
      targets.push({ name, broker: moat, port: moat.port, pskFile, reloadLine: /"event":"tls_reloaded"/ });
    } else {
      // startMosquitto adds its own plain listener; the PSK one is this second listener.
      const port = await freePort();
      const mosquitto = await startMosquitto({ config: `listener ${port} 127.0.0.1\n${lines(pskFile)}` });
      targets.push({ name, broker: mosquitto, port, pskFile, reloadLine: /Reloading config/ });
    }
  }
});

after(async () => {
  await Promise.all(subs.map((s) => s.stop()));
  await Promise.all(targets.map((t) => t.broker.stop()));
  rmSync(root, { recursive: true, force: true });
});

const psk = (t: Target, identity: string, key: string = KEYS[identity as keyof typeof KEYS] ?? '00'): string[] => [
  '-h',
  '127.0.0.1',
  '-p',
  String(t.port),
  '--psk',
  key,
  '--psk-identity',
  identity,
];

async function publish(t: Target, args: string[], topic: string, message: string, extra: string[] = []): Promise<{ code: number | null; stdout: string[] }> {
  return runMosquittoPub([...args, ...extra, '-q', '1', '-t', topic, '-m', message], { check: false });
}

/** openssl s_client with a PSK: sends CONNECT then DISCONNECT and returns everything it printed. */
async function sClient(t: Target, identity: string, key: string, version: '-tls1_2' | '-tls1_3'): Promise<string> {
  const client = await spawnTracked(
    'openssl',
    ['s_client', '-ign_eof', '-connect', `127.0.0.1:${t.port}`, version, '-psk', key, '-psk_identity', identity],
    { name: `openssl s_client ${version}`, input: CONNECT_THEN_DISCONNECT },
  );
  await client.exited;
  return client.logs.join('\n');
}

function refusals(t: Target): Record<string, unknown>[] {
  return t.broker.logs.filter((l) => l.includes('"tls_client_refused"')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

for (const name of ['moat', 'mosquitto'] as const) {
  const target = (): Target => {
    const found = targets.find((t) => t.name === name);
    assert.ok(found);
    return found;
  };

  describe(`${name}: TLS-PSK`, () => {
    test('the right key: a message reaches a subscriber; the PSK identity is the user name the ACL sees', { timeout: 30_000 }, async () => {
      const t = target();
      const sub = await startMosquittoSub([...psk(t, 'dev1'), '-q', '1', '-t', 'dev1/#', '-v']);
      subs.push(sub);
      assert.equal((await publish(t, psk(t, 'dev1'), 'dev1/a', 'from dev1')).code, 0);
      // dev2's ACL does not cover dev1/#: MQTT 5 PUBACK 135 Not authorized.
      const denied = await publish(t, psk(t, 'dev2'), 'dev1/a', 'from dev2', ['-d', '-V', '5']);
      assert.ok(denied.stdout.some((l) => / received PUBACK \(Mid: 1, RC:135\)$/.test(l)), denied.stdout.join('\n'));
      assert.equal((await publish(t, psk(t, LONG_FOR_LIBMOSQUITTO), 'dev1/a', 'x')).code, 0, 'a 255-byte identity from mosquitto_pub');
      assert.equal((await publish(t, psk(t, 'dev1'), 'dev1/b', 'marker')).code, 0);
      assert.deepEqual(await sub.waitForMessages(2), ['dev1/a from dev1', 'dev1/b marker']);
      if (t.name === 'moat') {
        const users = t.broker.logs.filter((l) => l.includes('"client_connected"')).map((l) => (JSON.parse(l) as Record<string, unknown>)['username']);
        assert.ok(users.includes('dev1') && users.includes('dev2'), JSON.stringify(users));
      }
    });

    test('a wrong key and an unknown identity are refused in the handshake', { timeout: 30_000 }, async () => {
      const t = target();
      const topic = `dev1/${randomUUID()}`;
      const sub = await startMosquittoSub([...psk(t, 'dev1'), '-q', '1', '-t', topic]);
      subs.push(sub);
      const before = refusals(t).length;
      assert.notEqual((await publish(t, psk(t, 'dev1', KEYS.dev2), topic, 'wrong key')).code, 0);
      assert.notEqual((await publish(t, psk(t, 'nobody', KEYS.dev1), topic, 'unknown identity')).code, 0);
      assert.equal((await publish(t, psk(t, 'dev1'), topic, 'marker')).code, 0);
      assert.deepEqual(await sub.waitForMessages(1), ['marker']);
      if (t.name === 'moat') {
        const logged = refusals(t).slice(before);
        assert.deepEqual(
          logged.map((r) => [r['pskIdentity'], r['reason'], r['address']]),
          [
            ['dev1', 'the client does not have the key psk_file gives its PSK identity', '127.0.0.1'],
            ['nobody', 'the client’s PSK identity is not in psk_file', '127.0.0.1'],
          ],
        );
      }
    });

    test('TLS 1.2 (openssl s_client -tls1_2): a PSK cipher, the 256-byte hint, CONNACK; a wrong key is refused', { timeout: 30_000 }, async () => {
      const t = target();
      const ok = await sClient(t, 'dev1', KEYS.dev1, '-tls1_2');
      assert.match(ok, /New, TLSv1\.2, Cipher is ((EC)?DHE-)?PSK-/);
      assert.ok(ok.includes(`PSK identity hint: ${HINT}`), ok);
      assert.ok(ok.includes(CONNACK_ACCEPTED), ok);
      const wrong = await sClient(t, 'dev1', KEYS.dev3, '-tls1_2');
      assert.match(wrong, /alert/);
      assert.ok(!wrong.includes(CONNACK_ACCEPTED), wrong);
    });

    test('the limits: a 256-byte identity with a 512-byte key (TLS 1.3)', { timeout: 30_000 }, async () => {
      const t = target();
      const out = await sClient(t, LONGEST, 'ab'.repeat(512), '-tls1_3');
      assert.match(out, /TLSv1\.3, Cipher is TLS_/);
      assert.ok(out.includes(CONNACK_ACCEPTED), out);
    });

    test('SIGHUP re-reads psk_file: a removed identity is refused, an added one connects', { timeout: 30_000 }, async () => {
      const t = target();
      assert.equal((await publish(t, psk(t, 'dev3'), 'dev3/x', 'before')).code !== 0, true, 'dev3 is not in the file yet');
      writePskFile(t.pskFile, ['dev1', 'dev3', LONGEST, LONG_FOR_LIBMOSQUITTO]);
      const seen = t.broker.logs.filter((l) => t.reloadLine.test(l)).length;
      process.kill(t.broker.pid, 'SIGHUP');
      await until(() => t.broker.logs.filter((l) => t.reloadLine.test(l)).length > seen, 5000, `${t.name} to reload`);
      // Mosquitto logs "Reloading config" before it reads the files: try for a moment.
      const end = Date.now() + 5000;
      while ((await publish(t, psk(t, 'dev3'), 'dev3/x', 'after')).code !== 0) {
        assert.ok(Date.now() < end, 'dev3 connects after the reload');
      }
      assert.notEqual((await publish(t, psk(t, 'dev2'), 'dev2/x', 'after')).code, 0, 'dev2 is gone');
      if (t.name === 'moat') assert.ok(t.broker.logs.some((l) => l.includes('"tls_reloaded"') && l.includes(`"pskFile":"${t.pskFile}"`)));
    });

    test('a malformed psk_file line is skipped: the devices on the other lines still connect', { timeout: 30_000 }, async () => {
      const t = target();
      const lines = ['dev1', 'dev3'].map((id) => `${id}:${KEYS[id as keyof typeof KEYS]}`);
      writeFileSync(`${t.pskFile}.tmp`, `${lines[0]}\nthis line has no colon\n${lines[1]}\n`);
      chmodSync(`${t.pskFile}.tmp`, 0o644);
      renameSync(`${t.pskFile}.tmp`, t.pskFile);
      const seen = t.broker.logs.filter((l) => t.reloadLine.test(l)).length;
      process.kill(t.broker.pid, 'SIGHUP');
      await until(() => t.broker.logs.filter((l) => t.reloadLine.test(l)).length > seen, 5000, `${t.name} to reload`);
      const end = Date.now() + 5000;
      while ((await publish(t, psk(t, 'dev3'), 'dev3/x', 'after a bad line')).code !== 0) {
        assert.ok(Date.now() < end, 'dev3, after the bad line, connects');
      }
      assert.equal((await publish(t, psk(t, 'dev1'), 'dev1/x', 'before a bad line')).code, 0, 'dev1, before the bad line, connects');
      if (t.name === 'moat') {
        const warning = t.broker.logs.find((l) => l.includes('"psk_file_warning"'));
        assert.ok(warning?.includes(`${t.pskFile}:2: this line is not IDENTITY:HEXKEY`), t.broker.logs.join('\n'));
      }
    });
  });
}
