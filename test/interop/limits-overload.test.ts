// Overload protection (overload_protection true, max_event_loop_lag 50) on a real moat process: while
// its event loop lags, the flooding publisher is read no further (overload_held, its client id
// named), the other clients keep being served, and once the lag is gone it is read again
// (overload_released) and its messages flow. The lag is made by stopping the broker process with
// SIGSTOP for 200 ms at a time (SIGCONT in between), as a CPU-starved broker would lag: a 100 ms
// timer that fires late is what the broker measures. moat's own option: Mosquitto has none.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encode } from '../../src/codec/encode.js';
import type { ProtocolVersion } from '../../src/codec/types.js';
import { startMoat, until, type RunningMoat } from '../kit/index.js';
import { RawClient } from '../faults/raw-client.js';

async function connected(broker: RunningMoat, clientId: string, version: ProtocolVersion = 4): Promise<RawClient> {
  const client = await RawClient.open({ host: broker.host, port: broker.port, version });
  client.send(encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: version, clean: true, keepalive: 60, clientId }, version));
  assert.ok(await client.until(() => client.packets.some((p) => p.type === 'connack'), 5000), client.describe());
  return client;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function logged(broker: RunningMoat, event: string, clientId: string): boolean {
  return broker.logs.some((line) => line.includes(`"event":"${event}"`) && line.includes(`"clientId":"${clientId}"`));
}

describe('overload_protection with max_event_loop_lag 50', () => {
  let broker: RunningMoat;
  const clients: RawClient[] = [];
  let flooding: NodeJS.Timeout | undefined;
  before(async () => {
    broker = await startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous true\noverload_protection true\nmax_event_loop_lag 50\n' });
  });
  after(async () => {
    if (flooding !== undefined) clearInterval(flooding);
    for (const client of clients) client.destroy();
    process.kill(broker.pid, 'SIGCONT');
    await broker?.stop();
  });

  test('the flooding publisher is held while the loop lags and read again after; a bystander keeps working', async () => {
    const flooder = await connected(broker, 'flooder');
    const watcher = await connected(broker, 'watcher');
    const bystander = await connected(broker, 'bystander');
    clients.push(flooder, watcher, bystander);
    watcher.send(encode({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'flood', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 4));
    assert.ok(await watcher.until(() => watcher.packets.some((p) => p.type === 'suback'), 5000));
    const message = encode({ type: 'publish', topic: 'flood', payload: Buffer.alloc(1024, 1), qos: 0, retain: false, dup: false }, 4);
    const batch = Buffer.concat(Array.from({ length: 16 }, () => message));
    flooding = setInterval(() => flooder.send(batch), 5);

    // Lag: stop the broker 200 ms at a time until it holds the flooder.
    for (let i = 0; i < 30 && !logged(broker, 'overload_held', 'flooder'); i++) {
      process.kill(broker.pid, 'SIGSTOP');
      await sleep(200);
      process.kill(broker.pid, 'SIGCONT');
      await sleep(150);
    }
    assert.ok(logged(broker, 'overload_held', 'flooder'), broker.logs.slice(-10).join('\n'));
    const heldLine = broker.logs.find((line) => line.includes('"overload_held"')) ?? '';
    assert.match(heldLine, /"cause":"event_loop_lag"/);
    assert.doesNotMatch(broker.logs.filter((line) => line.includes('"overload_held"')).join('\n'), /"clientId":"bystander"/);

    // The bystander is served (its PINGREQ and QoS 1 PUBLISH answered) whatever the flooder does.
    bystander.send(encode({ type: 'pingreq' }, 4));
    bystander.send(encode({ type: 'publish', topic: 'calm', payload: Buffer.from('still here'), qos: 1, packetId: 1, retain: false, dup: false }, 4));
    assert.ok(await bystander.until(() => bystander.packets.some((p) => p.type === 'pingresp') && bystander.packets.some((p) => p.type === 'puback'), 5000), bystander.describe());

    // No more lag: the flooder is read again and its messages reach the watcher.
    await until(() => logged(broker, 'overload_released', 'flooder'), 5000, 'overload_released for the flooder');
    const before = watcher.packets.length;
    assert.ok(await watcher.until(() => watcher.packets.length > before + 10, 5000), watcher.describe());
    clearInterval(flooding);
    flooding = undefined;
  });
});
