import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capacityAlertText, clearBelowPercent } from '../../src/observe/capacity.js';
import { SysPublisher } from '../../src/observe/sys.js';
import { connectionLimitOf } from '../../src/server/admin.js';
import { until } from '../kit/wait.js';
import { connect, startBroker } from './helper.js';

test('$SYS: clients/maximum is the peak of connected clients, clients/limit the configured limit', async () => {
  const broker = startBroker();
  const sys = new SysPublisher(broker, { intervalSeconds: 10, version: 'test', connectionLimit: 6000 });
  const a = await connect(broker, 'a');
  const b = await connect(broker, 'b');
  b.client.close();
  await b.client.waitClosed();
  await new Promise((r) => setTimeout(r, 20));
  const values = sys.snapshot();
  assert.equal(values['$SYS/broker/clients/connected'], '1');
  assert.equal(values['$SYS/broker/clients/maximum'], '2');
  assert.equal(values['$SYS/broker/clients/limit'], '6000');

  sys.start();
  a.client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: '$SYS/broker/clients/+', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  await a.client.next('suback');
  const maximum = await a.client.next('publish', (p) => p.topic === '$SYS/broker/clients/maximum');
  assert.equal(maximum.payload.toString(), '2');
  assert.equal(maximum.retain, true);
  sys.stop();
  broker.close();
});

test('$SYS: clients/expired counts the sessions removed because their expiry elapsed, on this broker only', async () => {
  const broker = startBroker();
  const other = startBroker();
  const sys = new SysPublisher(broker, { intervalSeconds: 10, version: 'test', connectionLimit: -1 });
  assert.equal(sys.snapshot()['$SYS/broker/clients/expired'], '0');
  for (const target of [broker, other]) {
    const { client } = await connect(target, 'brief', { properties: { sessionExpiryInterval: 1 } }, 5);
    client.send({ type: 'disconnect', reasonCode: 0 });
    await client.waitClosed();
  }
  const deadline = Date.now() + 3000;
  while (sys.snapshot()['$SYS/broker/clients/expired'] === '0' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(sys.snapshot()['$SYS/broker/clients/expired'], '1');
  sys.stop();
  broker.close();
  other.close();
});

test('$SYS: each update publishes the uptime, and any other value only when it changed (Mosquitto 2.0 sys_tree.c)', async () => {
  const broker = startBroker();
  const sys = new SysPublisher(broker, { intervalSeconds: 3600, version: 'test', connectionLimit: -1 });
  const { client } = await connect(broker, 'watcher');
  client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: '$SYS/#', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  await client.next('suback');
  const topics = (): string[] => client.received.flatMap((p) => (p.type === 'publish' ? [p.topic] : []));
  const updates = (): number => topics().filter((t) => t === '$SYS/broker/publish/bytes/sent').length;
  sys.start(); // the first update: every topic
  await until(() => updates() === 1, 2000, 'the first update');
  const first = topics().length;
  assert.ok(topics().includes('$SYS/broker/version') && topics().includes('$SYS/broker/load/sockets/15min'));
  sys.publishNow(); // since the first update only its $SYS messages to the watcher happened
  await until(() => topics().includes('$SYS/broker/uptime', first), 2000, 'the second update');
  await new Promise((r) => setTimeout(r, 50));
  const second = topics().slice(first);
  assert.ok(!second.includes('$SYS/broker/clients/connected'), `unchanged values are not published again: ${second.join(', ')}`);
  assert.ok(!second.includes('$SYS/broker/version'));
  assert.ok(second.includes('$SYS/broker/publish/messages/sent'), `the count of PUBLISH sent changed (the watcher got the first update): ${second.join(', ')}`);
  sys.stop();
  broker.close();
});

test('$SYS: the configured limit is the listeners\' max_connections added up, unlimited when any listener is, and global_max_connections when lower', () => {
  const limit = (values: number[], globalMaxConnections = -1): number => connectionLimitOf({ listeners: values.map((maxConnections) => ({ maxConnections })) as never, globalMaxConnections });
  assert.equal(limit([50]), 50);
  assert.equal(limit([50, 25]), 75);
  assert.equal(limit([50, -1]), -1);
  assert.equal(limit([]), -1);
  assert.equal(limit([50, 25], 60), 60);
  assert.equal(limit([50, 25], 100), 75);
  assert.equal(limit([50, -1], 100), 100);
  assert.equal(limit([], 2_147_483_647), 2_147_483_647);
  // Hysteresis: 5 points, or one connection when that is more (limits under 20).
  assert.equal(clearBelowPercent(1000, 80), 75);
  assert.equal(clearBelowPercent(10, 80), 70);
  assert.equal(capacityAlertText(41, 50, 80), 'connections 41/50 (82.0%) crossed capacity_alert_threshold 80%');
});
