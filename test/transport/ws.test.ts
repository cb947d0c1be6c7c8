// The WebSocket listener against an in-process engine: subprotocol negotiation, binary frames, and a
// clean end both ways (client close → session detached; engine close → a WebSocket close frame).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { Broker } from '../../src/broker/broker.js';
import { encode } from '../../src/codec/encode.js';
import { listenWebSocket, pickSubprotocol } from '../../src/transport/ws.js';
import type { Listening } from '../../src/transport/listen.js';
import { until } from '../kit/wait.js';

let broker: Broker;
let listening: Listening;

before(async () => {
  broker = new Broker({ allowAnonymous: true });
  listening = await listenWebSocket(broker, { host: '127.0.0.1', port: 0, policy: { allowAnonymous: true } });
});

after(async () => {
  broker.close();
  await listening.close();
});

function open(protocols: string | string[] | undefined, path = '/mqtt'): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${listening.port}${path}`, protocols, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

function nextFrame(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data, binary) => resolve({ data: data as Buffer, binary })));
}

function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

test('pickSubprotocol prefers mqtt, accepts mqttv3.1, refuses the rest', () => {
  assert.equal(pickSubprotocol('mqtt'), 'mqtt');
  assert.equal(pickSubprotocol('mqttv3.1, mqtt'), 'mqtt');
  assert.equal(pickSubprotocol('mqttv3.1'), 'mqttv3.1');
  assert.equal(pickSubprotocol('chat'), undefined);
  assert.equal(pickSubprotocol(undefined), undefined);
});

test('subprotocol mqtt is chosen; others and none are refused with 400; any path works', async () => {
  const ws = await open(['chat', 'mqtt']);
  assert.equal(ws.protocol, 'mqtt');
  ws.close();
  const old = await open('mqttv3.1', '/');
  assert.equal(old.protocol, 'mqttv3.1');
  old.close();
  await assert.rejects(open('chat'), /HTTP 400/);
  await assert.rejects(open(undefined), /HTTP 400/);
});

test('a plain HTTP request gets 426', async () => {
  const response = await fetch(`http://127.0.0.1:${listening.port}/mqtt`);
  assert.equal(response.status, 426);
  assert.match(await response.text(), /subprotocol "mqtt"/);
});

test('CONNACK comes back in a binary frame; a client close detaches the session', async () => {
  const ws = await open('mqtt');
  const frame = nextFrame(ws);
  ws.send(encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: false, keepalive: 0, clientId: 'ws-detach' }, 4));
  const { data, binary } = await frame;
  assert.equal(binary, true);
  assert.equal(data[0], 0x20); // CONNACK
  await until(() => broker.getSession('ws-detach')?.connection !== undefined);
  ws.close();
  await until(() => broker.getSession('ws-detach')?.connection === undefined);
  assert.ok(broker.getSession('ws-detach'), 'the persistent session stays');
});

test('the engine closing a connection sends a WebSocket close frame', async () => {
  const first = await open('mqtt');
  const firstAck = nextFrame(first);
  first.send(encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'ws-takeover' }, 5));
  await firstAck;
  const firstClosed = closed(first);
  const second = await open('mqtt');
  const secondAck = nextFrame(second);
  second.send(encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'ws-takeover' }, 5));
  await secondAck;
  const code = await firstClosed;
  assert.notEqual(code, 1006, 'closed with a close frame, not an abrupt drop');
  second.close();
});
