// clientid_prefixes and use_username_as_clientid with real mosquitto_pub / mosquitto_sub clients,
// against moat and Debian's Mosquitto 2.0.11 (the expectations are Mosquitto's).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mqtt from 'mqtt';
import { brokerArgs, runMosquittoPub, startMosquittoSub } from '../kit/clients.js';
import type { RunningBroker } from '../kit/broker.js';
import { brokerTargets } from '../kit/targets.js';

async function publish(broker: RunningBroker, version: '5' | '311', args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const out = await runMosquittoPub([...brokerArgs(broker), '-V', version, '-t', 'ids/x', '-m', 'x', ...args], { check: false });
  return { code: out.code, stderr: out.stderr.join('\n') };
}

for (const target of brokerTargets()) {
  describe(`${target.name}: clientid_prefixes`, () => {
    test('client ids that do not start with the prefix are refused as not authorized, assigned ids included', { timeout: 30_000 }, async () => {
      const broker = await target.start({ extraConfig: 'clientid_prefixes secure-' });
      try {
        for (const version of ['5', '311'] as const) {
          assert.equal((await publish(broker, version, ['-i', 'secure-sensor'])).code, 0);
          const refused = await publish(broker, version, ['-i', 'sensor']);
          assert.notEqual(refused.code, 0);
          assert.match(refused.stderr, version === '5' ? /Not authorized/ : /not authorised/);
          // mosquitto_pub sends an empty id: the broker's "auto-..." id does not match either.
          assert.notEqual((await publish(broker, version, [])).code, 0);
        }
        // The prefix is matched exactly: "secure" alone and another case are not it.
        assert.notEqual((await publish(broker, '5', ['-i', 'secure'])).code, 0);
        assert.notEqual((await publish(broker, '5', ['-i', 'SECURE-sensor'])).code, 0);
      } finally {
        await broker.stop();
      }
    });
  });

  describe(`${target.name}: use_username_as_clientid`, () => {
    test('the user name becomes the client id: a second client with the same user name takes the first one over', { timeout: 30_000 }, async () => {
      const broker = await target.start({ extraConfig: 'use_username_as_clientid true' });
      try {
        // Two different client ids, one user name: the second connection takes the first one's session over.
        const first = await mqtt.connectAsync(broker.url, { clientId: 'first-id', username: 'fleet', protocolVersion: 4, reconnectPeriod: 0 });
        const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
        const second = await mqtt.connectAsync(broker.url, { clientId: 'second-id', username: 'fleet', protocolVersion: 4, reconnectPeriod: 0 });
        await closed;
        assert.equal(second.connected, true);
        await second.endAsync();
        await first.endAsync(true);
        // Another user name is another client id: both stay connected.
        const other = await startMosquittoSub([...brokerArgs(broker), '-V', '5', '-i', 'same-id', '-u', 'one', '-t', 'ids/#', '-v']);
        try {
          await runMosquittoPub([...brokerArgs(broker), '-V', '5', '-i', 'same-id', '-u', 'two', '-t', 'ids/y', '-m', 'both']);
          assert.deepEqual(await other.waitForMessages(1), ['ids/y both']);
          assert.equal(other.process.exitResult, undefined, 'the same client id with another user name took nothing over');
        } finally {
          await other.stop();
        }
        if (target.name === 'moat') {
          const connected = broker.logs.filter((l) => l.includes('"client_connected"')).map((l) => JSON.parse(l) as Record<string, unknown>);
          assert.ok(connected.some((r) => r['clientId'] === 'fleet' && r['username'] === 'fleet'), JSON.stringify(connected));
          assert.ok(!connected.some((r) => r['clientId'] === 'first-id' || r['clientId'] === 'same-id'), JSON.stringify(connected));
        }
      } finally {
        await broker.stop();
      }
    });

    test('a client without a user name is refused as not authorized, even with anonymous access allowed', { timeout: 30_000 }, async () => {
      const broker = await target.start({ extraConfig: 'use_username_as_clientid true' });
      try {
        for (const version of ['5', '311'] as const) {
          const refused = await publish(broker, version, ['-i', 'no-user']);
          assert.notEqual(refused.code, 0);
          assert.match(refused.stderr, version === '5' ? /Not authorized/ : /not authorised/);
          assert.equal((await publish(broker, version, ['-i', 'no-user', '-u', 'someone'])).code, 0);
        }
      } finally {
        await broker.stop();
      }
    });
  });
}
