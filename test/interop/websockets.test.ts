// WebSocket listeners (`protocol websockets`): MQTT.js over ws:// and wss:// talks with a TCP client,
// a WebSocket without the "mqtt" subprotocol is refused, and moat's own client connects over ws://.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mqtt from 'mqtt';
import { WebSocket } from 'ws';
import { connect } from '../../src/client/index.js';
import { makeTestCertificates, type TlsFiles } from '../kit/certs.js';
import { startMoat, type RunningMoat } from '../kit/moat.js';
import { until } from '../kit/wait.js';

let dir: string;
let files: TlsFiles;
let broker: RunningMoat;
let wsPort: number;
let wssPort: number;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moat-ws-'));
  files = makeTestCertificates(dir);
  broker = await startMoat({
    config: [
      'per_listener_settings false',
      'allow_anonymous true',
      'listener 0 127.0.0.1',
      'listener 0 127.0.0.1',
      'protocol websockets',
      'listener 0 127.0.0.1',
      'protocol websockets',
      `certfile ${files.cert}`,
      `keyfile ${files.key}`,
      '',
    ].join('\n'),
  });
  await until(() => broker.listeners.length >= 3, 10_000, 'three listening lines');
  wsPort = broker.listeners.find((l) => l.protocol === 'websockets')?.port ?? 0;
  wssPort = broker.listeners.find((l) => l.protocol === 'wss')?.port ?? 0;
  assert.ok(wsPort > 0 && wssPort > 0, JSON.stringify(broker.listeners));
});

after(async () => {
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function exchange(wsUrl: string, options: mqtt.IClientOptions): Promise<void> {
  const tcp = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 5, reconnectPeriod: 0 });
  const web = await mqtt.connectAsync(wsUrl, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...options });
  try {
    await tcp.subscribeAsync('ws/from-web', { qos: 1 });
    await web.subscribeAsync('ws/from-tcp', { qos: 1 });
    const atTcp = new Promise<string>((resolve) => tcp.once('message', (_t, p) => resolve(p.toString())));
    const atWeb = new Promise<string>((resolve) => web.once('message', (_t, p) => resolve(p.toString())));
    await web.publishAsync('ws/from-web', 'hello tcp', { qos: 1 });
    await tcp.publishAsync('ws/from-tcp', 'hello web', { qos: 1 });
    assert.equal(await atTcp, 'hello tcp');
    assert.equal(await atWeb, 'hello web');
  } finally {
    await web.endAsync();
    await tcp.endAsync();
  }
}

test('the listening lines name the protocols: mqtt, websockets, wss', () => {
  assert.deepEqual(
    broker.listeners.map((l) => l.protocol),
    ['mqtt', 'websockets', 'wss'],
  );
});

test('MQTT.js over ws:// exchanges messages with an MQTT.js client over TCP', async () => {
  await exchange(`ws://127.0.0.1:${wsPort}/mqtt`, {});
});

test('MQTT.js over wss:// with the CA exchanges messages with a TCP client; without the CA it is refused', async () => {
  await exchange(`wss://localhost:${wssPort}/mqtt`, { ca: readFileSync(files.ca) });
  await assert.rejects(mqtt.connectAsync(`wss://localhost:${wssPort}/mqtt`, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3000 }));
});

test('a WebSocket asking for another subprotocol is refused with 400', async () => {
  const status = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${wsPort}/mqtt`, 'chat');
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('error', () => undefined);
  });
  assert.equal(status, 400);
  // The log line travels through a pipe: it may land after the HTTP answer.
  const deadline = Date.now() + 3000;
  while (!broker.logs.some((l) => l.includes('"websocket_refused"')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(broker.logs.some((l) => l.includes('"websocket_refused"')));
});

test("moat's own client over ws:// receives what a TCP client publishes", async () => {
  const client = await connect(`ws://127.0.0.1:${wsPort}/mqtt`, { protocolVersion: 5 });
  const tcp = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 4, reconnectPeriod: 0 });
  try {
    await client.subscribe('ws/own', { qos: 1 });
    const got = new Promise<string>((resolve) => {
      const off = client.onMessage((m) => {
        off();
        resolve(m.payload.toString());
      });
    });
    await tcp.publishAsync('ws/own', 'to moat client', { qos: 1 });
    assert.equal(await got, 'to moat client');
    await client.publish('ws/own-back', 'x', { qos: 1 }); // the PUBACK path over WebSocket
  } finally {
    await client.end();
    await tcp.endAsync();
  }
});
