// A password file with one malformed entry: Mosquitto 2.0 drops that entry and lets every other user
// in; so must moat, naming the skipped line (file:line) in its log, so that one typo cannot lock a
// whole fleet out. The same file, made with Debian's mosquitto_passwd, against moat and Mosquitto;
// the logins are real mosquitto_pub clients. Also after a SIGHUP reload that brings a bad line in.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { brokerArgs, runMosquittoPub } from '../kit/clients.js';
import type { RunningBroker } from '../kit/broker.js';
import { brokerTargets } from '../kit/targets.js';

// Mosquitto started as root reads the file as user mosquitto: no 0700 temp dir.
const dir = mkdtempSync(join(tmpdir(), 'moat-pw-bad-line-'));
chmodSync(dir, 0o755);
after(() => rmSync(dir, { recursive: true, force: true }));

/** user:hash lines from Debian's mosquitto_passwd. */
function hashedLines(users: readonly (readonly [string, string])[]): string[] {
  const file = join(dir, `made-${users.map(([u]) => u).join('-')}`);
  execFileSync('/usr/bin/mosquitto_passwd', ['-c', '-b', file, ...(users[0] ?? [])]);
  for (const [user, password] of users.slice(1)) execFileSync('/usr/bin/mosquitto_passwd', ['-b', file, user, password]);
  return readFileSync(file, 'utf8').trimEnd().split('\n');
}

const [alice, bob, carol] = hashedLines([['alice', 'alice-pw'], ['bob', 'bob-pw'], ['carol', 'carol-pw']]);

/** The exit code and stderr of one QoS 1 publish as `user`. */
async function login(broker: RunningBroker, user: string, password: string): Promise<{ code: number | null; stderr: string }> {
  const out = await runMosquittoPub([...brokerArgs(broker), '-V', '311', '-q', '1', '-u', user, '-P', password, '-t', 'pw/test', '-m', user], { check: false });
  return { code: out.code, stderr: out.stderr.join('\n') };
}

async function assertLogsIn(broker: RunningBroker, user: string, password: string): Promise<void> {
  const result = await login(broker, user, password);
  assert.equal(result.code, 0, `${user} should log in: ${result.stderr}`);
}

async function assertRefused(broker: RunningBroker, user: string, password: string): Promise<void> {
  const result = await login(broker, user, password);
  assert.notEqual(result.code, 0, `${user} should be refused`);
  assert.match(result.stderr, /not authori[sz]ed|bad user name or password/i);
}

for (const target of brokerTargets()) {
  describe(`${target.name}: a password file with one malformed entry`, () => {
    test('the entry is skipped, every other user logs in; moat names file:line in its log', { timeout: 30_000 }, async () => {
      const file = join(dir, `${target.name}-start.passwd`);
      // Line 2: a plain-text password, which neither broker accepts.
      writeFileSync(file, `${alice}\nmallory:plain-secret\n${bob}\n`, { mode: 0o644 });
      const broker = await target.start({ extraConfig: `allow_anonymous false\npassword_file ${file}` });
      try {
        await assertLogsIn(broker, 'alice', 'alice-pw');
        await assertLogsIn(broker, 'bob', 'bob-pw');
        await assertRefused(broker, 'mallory', 'plain-secret');
        await assertRefused(broker, 'bob', 'wrong');
        if (target.name === 'moat') {
          const warning = broker.logs.find((l) => l.includes('"password_file_warning"'));
          assert.ok(warning !== undefined, broker.logs.join('\n'));
          assert.ok(warning.includes(`${file}:2: user \\"mallory\\" has a plain-text password`), warning);
          assert.ok(!warning.includes('plain-secret'), 'the password is not logged');
        } else {
          assert.ok(broker.logs.some((l) => /user mallory, removing entry/.test(l)), broker.logs.join('\n'));
        }
      } finally {
        await broker.stop();
      }
    });

    test('a reload (SIGHUP) that brings in a malformed line keeps every other user, new ones included', { timeout: 30_000 }, async () => {
      const file = join(dir, `${target.name}-reload.passwd`);
      writeFileSync(file, `${alice}\n`, { mode: 0o644 });
      const broker = await target.start({ extraConfig: `allow_anonymous false\npassword_file ${file}` });
      try {
        await assertLogsIn(broker, 'alice', 'alice-pw');
        await assertRefused(broker, 'carol', 'carol-pw');
        // Line 2 has no ":" at all; line 3 a damaged hash.
        writeFileSync(file, `${alice}\nnot a password line\nbob:$7$101$AAAA$BBBB\n${carol}\n`);
        const logged = broker.logs.length;
        process.kill(broker.pid, 'SIGHUP');
        if (target.name === 'moat') {
          const deadline = Date.now() + 5000;
          while (!broker.logs.slice(logged).some((l) => l.includes('"auth_reloaded"')) && Date.now() < deadline) await sleep(50);
          const fresh = broker.logs.slice(logged);
          assert.ok(fresh.some((l) => l.includes('"auth_reloaded"') && l.includes('"users":2')), fresh.join('\n'));
          assert.ok(fresh.some((l) => l.includes(`${file}:2: this line is not USERNAME:HASH`)), fresh.join('\n'));
          assert.ok(fresh.some((l) => l.includes(`${file}:3: user \\"bob\\" has a damaged $7$ hash`)), fresh.join('\n'));
        } else {
          await sleep(500);
        }
        await assertLogsIn(broker, 'carol', 'carol-pw');
        await assertLogsIn(broker, 'alice', 'alice-pw');
        await assertRefused(broker, 'bob', 'bob-pw');
      } finally {
        await broker.stop();
      }
    });
  });
}
