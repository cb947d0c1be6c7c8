// pid_file (written at start, removed at exit, a file that cannot be written stops the broker) and
// the two options that are read but change nothing, as in Mosquitto 2.0 (log_facility without
// syslog, retry_interval): moat and Debian's Mosquitto 2.0.11, with real clients.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { brokerArgs, runMosquittoPub, startMosquittoSub } from '../kit/clients.js';
import { moatCommand } from '../kit/moat.js';
import { MOSQUITTO_BINARY } from '../kit/mosquitto.js';
import { spawnTracked } from '../kit/process.js';
import { brokerTargets } from '../kit/targets.js';

// Mosquitto writes its pid file after dropping to user mosquitto: a directory anyone may write.
const dir = mkdtempSync(join(tmpdir(), 'moat-process-options-'));
chmodSync(dir, 0o777);
after(() => rmSync(dir, { recursive: true, force: true }));

for (const target of brokerTargets()) {
  describe(`${target.name}: pid_file`, () => {
    test('holds the broker\'s process id while it runs and is removed when it stops', { timeout: 30_000 }, async () => {
      const pidFile = join(dir, `${target.name}.pid`);
      const broker = await target.start({ extraConfig: `pid_file ${pidFile}` });
      let stopped = false;
      try {
        assert.equal(readFileSync(pidFile, 'utf8').trim(), String(broker.pid));
        await runMosquittoPub([...brokerArgs(broker), '-t', 'pid/x', '-m', 'x']);
        assert.equal(await broker.stop('SIGTERM'), 0);
        stopped = true;
        assert.equal(existsSync(pidFile), false, 'the pid file is removed at exit');
      } finally {
        if (!stopped) await broker.stop();
      }
    });
  });

  describe(`${target.name}: log_facility and retry_interval change nothing`, () => {
    test('the broker starts with both and serves clients', { timeout: 30_000 }, async () => {
      const broker = await target.start({ extraConfig: 'log_facility 7\nretry_interval 20' });
      try {
        const sub = await startMosquittoSub([...brokerArgs(broker), '-t', 'noop/#', '-v']);
        try {
          await runMosquittoPub([...brokerArgs(broker), '-q', '1', '-t', 'noop/x', '-m', 'still works']);
          assert.deepEqual(await sub.waitForMessages(1), ['noop/x still works']);
        } finally {
          await sub.stop();
        }
        if (target.name === 'moat') {
          const warnings = broker.logs.filter((l) => l.includes('"config_warning"'));
          assert.ok(warnings.some((l) => l.includes('log_facility 7 has no effect')), warnings.join('\n'));
          assert.ok(warnings.some((l) => l.includes('retry_interval has no effect since Mosquitto 2.0')), warnings.join('\n'));
        } else {
          assert.ok(broker.logs.some((l) => l.includes('The retry_interval option is no longer available')), broker.logs.join('\n'));
        }
      } finally {
        await broker.stop();
      }
    });
  });
}

test('moat: a pid_file that cannot be written stops the broker (exit 1) with the reason and the fix; so does Mosquitto', { timeout: 30_000 }, async () => {
  const missing = join(dir, 'no-such-dir', 'moat.pid');
  const config = join(dir, 'bad-pid.conf');
  writeFileSync(config, `listener 0 127.0.0.1\nallow_anonymous true\npid_file ${missing}\n`, { mode: 0o644 });
  const { command, args } = moatCommand(['broker', '-c', config]);
  const moat = await spawnTracked(command, args, { name: 'moat' });
  const result = await moat.exited;
  assert.equal(result.code, 1, moat.formatLogs());
  assert.ok(moat.stderr.includes(`moat broker: cannot write pid_file ${missing}: its directory does not exist. Fix: create the directory and let the user moat runs as write to it, or remove the pid_file line.`), moat.formatLogs());
  assert.equal(moat.logs.some((l) => l.includes('"listening"')), false, 'no listener was opened');

  const mosquitto = await spawnTracked(MOSQUITTO_BINARY, ['-c', config], { name: 'mosquitto' });
  assert.notEqual((await mosquitto.exited).code, 0);
  assert.ok(mosquitto.logs.some((l) => l.includes('Unable to write pid file')), mosquitto.formatLogs());
});
