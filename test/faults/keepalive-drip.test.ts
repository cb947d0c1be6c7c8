// Issue 9, defect 6: keep alive was defeated by a slow drip. Any received byte refreshed the clock,
// so a client sending one byte of an unfinished packet at a time was never closed. Only a complete
// control packet counts [MQTT-3.1.2-24]: the broker closes the connection at 1.5 x keep alive, as
// Debian's Mosquitto does (run side by side here), while a client that completes its PINGREQs stays.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test, type TestContext } from 'node:test';
import { encode } from '../../src/codec/encode.js';
import { brokerTargets, type RunningBroker } from '../kit/index.js';
import { RawClient } from './raw-client.js';

const KEEPALIVE_S = 2; // closed after 3 s without a complete packet
const DRIP_EVERY_MS = 200;

function connectWithKeepalive(clientId: string): Buffer {
  return encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepalive: KEEPALIVE_S, clientId }, 4);
}

for (const target of brokerTargets()) {
  describe(`keep alive counts complete packets only (${target.name})`, () => {
    let broker: RunningBroker;
    before(async () => {
      broker = await target.start();
    });
    after(async () => {
      await broker?.stop();
    });

    test(`a client dripping one byte of an unfinished PUBLISH every ${DRIP_EVERY_MS} ms is closed at 1.5 x keep alive`, async (t: TestContext) => {
      const client = await RawClient.open({ host: broker.host, port: broker.port });
      try {
        client.send(connectWithKeepalive(`drip-${target.name}`));
        assert.equal((await client.waitFor('connack', 2000))?.reasonCode, 0);
        // A QoS 0 PUBLISH announcing 1,000 bytes, then its body one byte at a time: never complete.
        client.send(Buffer.from([0x30, 0xe8, 0x07]));
        const started = performance.now();
        while (!client.closed && performance.now() - started < 4 * KEEPALIVE_S * 1000) {
          client.send(Buffer.from([0x61]));
          await sleep(DRIP_EVERY_MS);
        }
        const closedAfter = (client.closedAt ?? Number.NaN) - started;
        t.diagnostic(`${target.name} closed the dripping client after ${closedAfter.toFixed(0)} ms (keep alive ${KEEPALIVE_S} s)`);
        assert.ok(client.closedByPeer, `the broker never closed the dripping client; ${client.describe()}`);
        assert.ok(closedAfter >= 1.5 * KEEPALIVE_S * 1000 - 300, `closed too early: ${closedAfter.toFixed(0)} ms`);
        // moat sweeps every 250 ms; Mosquitto checks keep alive in whole seconds on its own schedule.
        const slack = target.name === 'moat' ? 1200 : 3500;
        assert.ok(closedAfter <= 1.5 * KEEPALIVE_S * 1000 + slack, `closed late: ${closedAfter.toFixed(0)} ms`);
      } finally {
        client.destroy();
      }
    });

    test('a client sending a complete PINGREQ every second stays connected past 1.5 x keep alive', async () => {
      const client = await RawClient.open({ host: broker.host, port: broker.port });
      try {
        client.send(connectWithKeepalive(`pinger-${target.name}`));
        assert.equal((await client.waitFor('connack', 2000))?.reasonCode, 0);
        for (let i = 0; i < 4; i++) {
          await sleep(1000);
          client.send(Buffer.from([0xc0, 0x00]));
        }
        assert.equal(client.closed, false, client.describe());
        assert.ok(client.packets.filter((p) => p.type === 'pingresp').length >= 3);
      } finally {
        client.destroy();
      }
    });
  });
}
