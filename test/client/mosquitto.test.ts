// The client against Debian's Mosquitto: the same flows as against moat, from another implementation.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { connect, type DisconnectReason, type ReceivedMessage } from '../../src/client/index.js';
import type { RunningBroker } from '../kit/broker.js';
import { MOSQUITTO_BINARY, startMosquitto } from '../kit/mosquitto.js';
import { within } from './helper.js';

describe('client against Mosquitto', { skip: existsSync(MOSQUITTO_BINARY) ? false : `${MOSQUITTO_BINARY} not installed` }, () => {
  let mosquitto: RunningBroker | undefined;
  const url = (): string => {
    assert.ok(mosquitto, 'mosquitto did not start');
    return mosquitto.url;
  };

  before(async () => {
    mosquitto = await startMosquitto();
  });
  after(async () => {
    await mosquitto?.stop();
  });

  for (const protocolVersion of [4, 5] as const) {
    test(`v${protocolVersion}: QoS 0/1/2 round trip and a retained message`, async () => {
      const client = await connect(url(), { protocolVersion });
      const base = `moat-client/v${protocolVersion}/${client.clientId}`;
      const iterator = client.messages(`${base}/#`);
      assert.deepEqual(await client.subscribe(`${base}/#`, { qos: 2 }), [2]);
      for (const qos of [0, 1, 2] as const) await client.publish(`${base}/q${qos}`, `payload ${qos}`, { qos });
      const got: ReceivedMessage[] = [];
      for (let i = 0; i < 3; i++) {
        const { value } = await within(2000, iterator.next(), 'a message');
        if (value !== undefined) got.push(value);
      }
      assert.deepEqual(got.map((m) => `${m.topic.slice(base.length)} ${m.qos} ${m.payload.toString()}`), ['/q0 0 payload 0', '/q1 1 payload 1', '/q2 2 payload 2']);

      await client.publish(`${base}/retained`, 'kept', { qos: 1, retain: true });
      const late = await connect(url(), { protocolVersion });
      const retained = late.messages();
      await late.subscribe(`${base}/retained`, { qos: 1 });
      const { value } = await within(2000, retained.next(), 'the retained message');
      assert.equal(value?.retain, true);
      assert.equal(value?.payload.toString(), 'kept');
      await late.publish(`${base}/retained`, '', { qos: 1, retain: true }); // clear it
      await late.end();
      await client.end();
    });
  }

  // Mosquitto 2.0.11 (Debian 12) closes the old connection without a DISCONNECT; later releases send 0x8E.
  test('v5 session takeover is reported: 0x8E Session taken over, or a close without DISCONNECT', async () => {
    // reconnect: false: after a close without DISCONNECT the client would reconnect and take the session back.
    const first = await connect(url(), { clientId: 'moat-takeover', reconnect: false });
    const reason = new Promise<DisconnectReason>((resolve) => first.onDisconnect(resolve));
    const second = await connect(url(), { clientId: 'moat-takeover' });
    const got = await within(2000, reason, 'onDisconnect');
    if (got.reasonCode === undefined) assert.equal(got.message, 'The server closed the connection without a DISCONNECT.');
    else assert.match(got.message, /^The server disconnected: 0x8E Session taken over/);
    assert.equal(first.connected, false);
    await second.end();
  });

  test('keep alive 1 s: Mosquitto answers the pings and the connection stays up', async () => {
    const client = await connect(url(), { keepalive: 1 });
    let reason: DisconnectReason | undefined;
    client.onDisconnect((r) => (reason = r));
    await new Promise((resolve) => setTimeout(resolve, 2600));
    assert.equal(reason, undefined);
    assert.equal(client.connected, true);
    await client.end();
  });

});

describe('client against Mosquitto with allow_anonymous false', { skip: existsSync(MOSQUITTO_BINARY) ? false : `${MOSQUITTO_BINARY} not installed` }, () => {
  test('refused CONNECT: v5 0x87 Not authorized, 3.1.1 return code 5', async () => {
    // The kit writes `allow_anonymous true` first; a later line in the same file wins in Mosquitto.
    const mosquitto = await startMosquitto({ config: 'allow_anonymous false' });
    try {
      await assert.rejects(connect(mosquitto.url, { protocolVersion: 5 }), { name: 'MqttError', code: 'MOAT_ERR_CONNACK', reasonCode: 0x87, message: /Not authorized/ });
      await assert.rejects(connect(mosquitto.url, { protocolVersion: 4 }), { name: 'MqttError', reasonCode: 5, message: /not authorized/ });
    } finally {
      await mosquitto.stop();
    }
  });
});
