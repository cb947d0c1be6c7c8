// How listeners bind: socket_domain (IPv4 only / IPv6 only), bind_interface (an interface's
// address) and Unix socket listeners (`listener 0 PATH`), with mosquitto_pub as the client, against
// moat and Debian's Mosquitto 2.0.11.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runMosquittoPub, startMosquittoSub } from '../kit/clients.js';
import { moatCommand } from '../kit/moat.js';
import { MOSQUITTO_BINARY } from '../kit/mosquitto.js';
import { freePort } from '../kit/ports.js';
import { spawnTracked } from '../kit/process.js';
import type { RunningBroker } from '../kit/broker.js';
import type { RunningMoat } from '../kit/moat.js';
import { brokerTargets, type BrokerTarget } from '../kit/targets.js';
import { until } from '../kit/wait.js';

// Mosquitto creates its Unix socket after dropping to user mosquitto: a directory anyone may write.
const dir = mkdtempSync(join(tmpdir(), 'moat-binding-'));
chmodSync(dir, 0o777);
after(() => rmSync(dir, { recursive: true, force: true }));

/** This machine's first non-loopback IPv4 address, if it has one. */
const external = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

/**
 * Starts `target` with a second listener from `extraConfig`. The kit returns once the first listener
 * accepts; Mosquitto has bound them all by then, moat says so per listener ("listening").
 */
async function startWithSecondListener(target: BrokerTarget, extraConfig: string): Promise<RunningBroker> {
  const broker = await target.start({ extraConfig });
  const moat = broker as Partial<RunningMoat>;
  if (moat.listeners !== undefined) {
    const listeners = moat.listeners;
    await until(() => listeners.length >= 2, 10_000, 'moat\'s second "listening" line');
  }
  return broker;
}

/** Whether mosquitto_pub gets a message through to host:port. */
async function reaches(host: string, port: number): Promise<boolean> {
  const out = await runMosquittoPub(['-h', host, '-p', String(port), '-t', 'bind/x', '-m', 'x'], { check: false });
  return out.code === 0;
}

for (const target of brokerTargets()) {
  describe(`${target.name}: socket_domain`, () => {
    for (const [domain, yes, no] of [['ipv4', '127.0.0.1', '::1'], ['ipv6', '::1', '127.0.0.1']] as const) {
      test(`${domain}: a listener for all interfaces takes ${yes}, not ${no}`, { timeout: 30_000 }, async () => {
        const port = await freePort();
        const broker = await startWithSecondListener(target, `listener ${port}\nsocket_domain ${domain}`);
        try {
          assert.equal(await reaches(yes, port), true, `${yes} refused`);
          assert.equal(await reaches(no, port), false, `${no} accepted`);
        } finally {
          await broker.stop();
        }
      });
    }

    test('ipv6 with an IPv4 bind address: the broker does not start', { timeout: 30_000 }, async () => {
      const config = join(dir, `${target.name}-domain.conf`);
      writeFileSync(config, `listener ${await freePort()} 127.0.0.1\nsocket_domain ipv6\nallow_anonymous true\n`, { mode: 0o644 });
      const { command, args } = target.name === 'moat' ? moatCommand(['broker', '-c', config]) : { command: MOSQUITTO_BINARY, args: ['-c', config] };
      const broker = await spawnTracked(command, args, { name: target.name });
      assert.notEqual((await broker.exited).code, 0, broker.formatLogs());
      if (target.name === 'moat') {
        assert.ok(broker.logs.some((l) => l.includes('"listen_failed"') && l.includes('127.0.0.1 is not an IPv6 address (socket_domain ipv6)')), broker.formatLogs());
      }
    });
  });

  describe(`${target.name}: bind_interface`, () => {
    test('lo on a listener for all interfaces binds the loopback address, not the others', { timeout: 30_000 }, async () => {
      const port = await freePort();
      const broker = await startWithSecondListener(target, `listener ${port}\nbind_interface lo`);
      try {
        assert.equal(await reaches('127.0.0.1', port), true);
        if (external !== undefined) assert.equal(await reaches(external, port), false, `${external} accepted`);
        // Mosquitto binds one address per IP version; a moat listener binds one address.
        assert.equal(await reaches('::1', port), target.name === 'mosquitto');
      } finally {
        await broker.stop();
      }
    });

    test('lo with socket_domain ipv6 binds ::1 only', { timeout: 30_000 }, async () => {
      const port = await freePort();
      const broker = await startWithSecondListener(target, `listener ${port}\nbind_interface lo\nsocket_domain ipv6`);
      try {
        assert.equal(await reaches('::1', port), true);
        assert.equal(await reaches('127.0.0.1', port), false);
      } finally {
        await broker.stop();
      }
    });
  });

  describe(`${target.name}: listener 0 PATH (a Unix socket)`, () => {
    test('mosquitto_sub and mosquitto_pub meet over the socket', { timeout: 30_000 }, async () => {
      const path = join(dir, `${target.name}.sock`);
      const broker = await startWithSecondListener(target, `listener 0 ${path}`);
      try {
        const sub = await startMosquittoSub(['--unix', path, '-t', 'unix/#', '-v']);
        try {
          await runMosquittoPub(['--unix', path, '-q', '1', '-t', 'unix/x', '-m', 'over a socket']);
          assert.deepEqual(await sub.waitForMessages(1), ['unix/x over a socket']);
        } finally {
          await sub.stop();
        }
      } finally {
        await broker.stop();
      }
    });
  });
}

describe('moat: Unix socket files', () => {
  test('a socket left behind is replaced; a file that is not a socket is kept, and the broker does not start', { timeout: 30_000 }, async () => {
    const path = join(dir, 'moat-regular.sock');
    writeFileSync(path, 'not a socket');
    const config = join(dir, 'regular.conf');
    writeFileSync(config, `listener 0 ${path}\nallow_anonymous true\n`);
    const { command, args } = moatCommand(['broker', '-c', config]);
    const moat = await spawnTracked(command, args, { name: 'moat' });
    assert.equal((await moat.exited).code, 1, moat.formatLogs());
    assert.ok(moat.logs.some((l) => l.includes('"listen_failed"') && l.includes(`${path} exists and is not a socket; moat will not replace it`)), moat.formatLogs());

    // A broker killed with SIGKILL leaves its socket file: the next one takes the path over.
    rmSync(path);
    for (const round of [1, 2]) {
      const broker = await spawnTracked(command, args, { name: `moat ${round}` });
      await broker.waitForLine((l) => l.includes('"listening"'), 10_000, 'the listening line');
      await runMosquittoPub(['--unix', path, '-t', 'unix/x', '-m', `round ${round}`]);
      await broker.kill();
    }
  });
});
