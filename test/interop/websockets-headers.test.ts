// websockets_headers_size: the largest HTTP request header a WebSocket upgrade may carry (big cookies
// behind a proxy, long tokens). MQTT.js clients with a header of a chosen size, against moat only:
// Debian's Mosquitto 2.0.11 opens no WebSocket listener on this machine ("Unable to start any
// listening sockets"), so there is no reference run here.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mqtt from 'mqtt';
import { startMoat, type RunningMoat } from '../kit/moat.js';

/** Whether an MQTT.js client whose upgrade request carries `bytes` bytes of cookie connects. */
async function connects(broker: RunningMoat, bytes: number): Promise<boolean> {
  const ws = broker.listeners.find((l) => l.protocol === 'websockets');
  assert.ok(ws, broker.logs.join('\n'));
  const client = mqtt.connect(`ws://127.0.0.1:${ws.port}/mqtt`, {
    reconnectPeriod: 0,
    connectTimeout: 5000,
    wsOptions: { headers: { cookie: 'a'.repeat(bytes) } },
  });
  // A refused upgrade ends in 'error' or just 'close', never in a rejected connectAsync.
  const connected = await new Promise<boolean>((resolve) => {
    client.once('connect', () => resolve(true));
    client.once('error', () => resolve(false));
    client.once('close', () => resolve(false));
  });
  await client.endAsync(true);
  return connected;
}

async function withWebSocketListener(extra: string, body: (broker: RunningMoat) => Promise<void>): Promise<void> {
  const broker = await startMoat({ config: `listener 0 127.0.0.1\nprotocol websockets\nallow_anonymous true\n${extra}` });
  try {
    await body(broker);
  } finally {
    await broker.stop();
  }
}

describe('moat: websockets_headers_size', () => {
  test('2048: an upgrade with 1,500 bytes of headers connects, one with 2,500 is refused', { timeout: 30_000 }, async () => {
    await withWebSocketListener('websockets_headers_size 2048\n', async (broker) => {
      assert.equal(await connects(broker, 1500), true);
      assert.equal(await connects(broker, 2500), false);
      assert.equal(await connects(broker, 100), true, 'a refused upgrade leaves the listener serving');
    });
  });

  test('unset and 0: Node\'s own 16 KB, more than Mosquitto\'s 1024-byte default', { timeout: 30_000 }, async () => {
    for (const extra of ['', 'websockets_headers_size 0\n']) {
      await withWebSocketListener(extra, async (broker) => {
        assert.equal(await connects(broker, 8000), true);
        assert.equal(await connects(broker, 17_000), false);
      });
    }
  });

  test('65535, the largest: a 40,000-byte header connects', { timeout: 30_000 }, async () => {
    await withWebSocketListener('websockets_headers_size 65535\n', async (broker) => {
      assert.equal(await connects(broker, 40_000), true);
      assert.equal(await connects(broker, 70_000), false);
    });
  });
});
