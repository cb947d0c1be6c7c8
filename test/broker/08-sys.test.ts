import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SysPublisher } from '../../src/observe/sys.js';
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
