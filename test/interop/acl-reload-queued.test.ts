// Issue 10, defect 1: read access taken away by an ACL reload (SIGHUP) must also stop the QoS 1
// messages already queued for an offline persistent client; moat delivered them on reconnect.
// Run against moat and Debian's Mosquitto, which drops them, so the expectation is the reference's.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { brokerTargets } from '../kit/targets.js';

// Mosquitto drops to user mosquitto when started as root: its ACL file must be readable by it.
const dir = mkdtempSync(join(tmpdir(), 'moat-acl-queued-'));
chmodSync(dir, 0o755);
after(() => rmSync(dir, { recursive: true, force: true }));

const READ_WRITE = 'topic readwrite q/#\n';
const WRITE_ONLY = 'topic write q/#\n';

/** Connects the persistent subscriber, collects what it receives for `ms`, and disconnects. */
async function collect(url: string, clientId: string, ms: number, subscribe: boolean): Promise<string[]> {
  const received: string[] = [];
  // Queued messages follow CONNACK at once: listen before connecting.
  const client = mqtt.connect(url, { clientId, clean: false, protocolVersion: 4, reconnectPeriod: 0 });
  client.on('message', (_topic, payload) => received.push(payload.toString()));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  if (subscribe) await client.subscribeAsync('q/#', { qos: 1 });
  await sleep(ms);
  await client.endAsync();
  return received;
}

async function publishQos1(url: string, payloads: string[]): Promise<void> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
  for (const payload of payloads) await client.publishAsync('q/x', payload, { qos: 1 });
  await client.endAsync();
}

for (const target of brokerTargets()) {
  describe(`${target.name}: ACL reload and messages queued for an offline client`, () => {
    test('messages queued before read access was revoked are not delivered after SIGHUP', async () => {
      const acl = join(dir, `${target.name}.acl`);
      writeFileSync(acl, READ_WRITE, { mode: 0o644 });
      const broker = await target.start({ extraConfig: `acl_file ${acl}` });
      try {
        assert.deepEqual(await collect(broker.url, 'keeper', 100, true), []);
        // Allowed: what is queued while offline arrives on reconnect (proves the setup delivers).
        await publishQos1(broker.url, ['a1', 'a2', 'a3']);
        assert.deepEqual((await collect(broker.url, 'keeper', 1000, false)).sort(), ['a1', 'a2', 'a3']);

        await publishQos1(broker.url, ['b1', 'b2', 'b3']);
        writeFileSync(acl, WRITE_ONLY);
        const logged = broker.logs.length;
        process.kill(broker.pid, 'SIGHUP');
        await sleep(500);
        if (target.name === 'moat') {
          const reloaded = broker.logs.slice(logged).find((l) => l.includes('"event":"auth_reloaded"'));
          assert.ok(reloaded !== undefined, broker.logs.slice(logged).join('\n'));
          assert.match(reloaded, /"dropped":3/);
        }
        assert.deepEqual(await collect(broker.url, 'keeper', 1500, false), [], 'queued messages on a topic no longer readable were delivered');
      } finally {
        await broker.stop();
      }
    });
  });
}
