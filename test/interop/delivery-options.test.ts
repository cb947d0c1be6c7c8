// queue_qos0_messages and allow_duplicate_messages with real clients (mosquitto_sub / mosquitto_pub),
// against moat and Debian's Mosquitto 2.0.11.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { brokerArgs, runMosquittoPub, runMosquittoSub, startMosquittoSub } from '../kit/clients.js';
import type { RunningBroker } from '../kit/broker.js';
import { brokerTargets } from '../kit/targets.js';

/** A persistent 3.1.1 session subscribed to q/# at QoS 1, then offline. */
async function persistentSubscriber(broker: RunningBroker, id: string): Promise<void> {
  const out = await runMosquittoSub([...brokerArgs(broker), '-i', id, '-c', '-q', '1', '-t', 'q/#', '-E']);
  assert.equal(out.code, 0, out.stderr.join('\n'));
}

/** Reconnects the session and returns what it is sent: the queued messages, then a QoS 1 marker published once it is back. */
async function reconnect(broker: RunningBroker, id: string): Promise<string[]> {
  const sub = await startMosquittoSub([...brokerArgs(broker), '-i', id, '-c', '-q', '1', '-t', 'q/#', '-v']);
  try {
    await publish(broker, 'q/end', 'marker', 1);
    const received = await sub.waitForMessages((m) => m.includes('q/end marker'));
    return received.slice(0, -1);
  } finally {
    await sub.stop();
  }
}

async function publish(broker: RunningBroker, topic: string, message: string, qos: 0 | 1): Promise<void> {
  await runMosquittoPub([...brokerArgs(broker), '-q', String(qos), '-t', topic, '-m', message]);
}

for (const target of brokerTargets()) {
  describe(`${target.name}: queue_qos0_messages`, () => {
    for (const queue of [true, false]) {
      test(`${queue}: QoS 0 messages for an offline persistent session are ${queue ? 'kept and sent on reconnect' : 'dropped'}`, { timeout: 30_000 }, async () => {
        const broker = await target.start({ extraConfig: `queue_qos0_messages ${queue}` });
        try {
          await persistentSubscriber(broker, 'q0-keeper');
          await publish(broker, 'q/a', 'zero', 0);
          await publish(broker, 'q/b', 'one', 1);
          assert.deepEqual(await reconnect(broker, 'q0-keeper'), queue ? ['q/a zero', 'q/b one'] : ['q/b one']);
        } finally {
          await broker.stop();
        }
      });
    }

    // mosquitto.conf(5) says queued QoS 0 messages count against max_queued_messages; Mosquitto 2.0.11
    // counts only QoS 1/2 ones (db__ready_for_queue's msg_count12), so its QoS 0 queue has no bound.
    // moat does what the manual says.
    test('true: queued QoS 0 messages count against max_queued_messages in moat (not in Mosquitto 2.0.11)', { timeout: 30_000 }, async () => {
      const broker = await target.start({ extraConfig: 'queue_qos0_messages true\nmax_queued_messages 2' });
      try {
        await persistentSubscriber(broker, 'q0-limited');
        for (const n of [1, 2, 3]) await publish(broker, 'q/n', `zero-${n}`, 0);
        await publish(broker, 'q/n', 'one', 1);
        assert.deepEqual(
          await reconnect(broker, 'q0-limited'),
          target.name === 'moat'
            ? ['q/n zero-1', 'q/n zero-2'] // the queue held 2: the third QoS 0 message and the QoS 1 one found it full
            : ['q/n zero-1', 'q/n zero-2', 'q/n zero-3', 'q/n one'],
        );
      } finally {
        await broker.stop();
      }
    });
  });

  describe(`${target.name}: allow_duplicate_messages`, () => {
    for (const allow of [false, true]) {
      test(`${allow}: a message matching two subscriptions of one client`, { timeout: 30_000 }, async () => {
        const broker = await target.start({ extraConfig: `allow_duplicate_messages ${allow}` });
        try {
          const sub = await startMosquittoSub([...brokerArgs(broker), '-t', 'foo/#', '-t', 'foo/+/baz', '-v']);
          try {
            await publish(broker, 'foo/bar/baz', 'once', 0);
            await publish(broker, 'foo/end', 'marker', 0); // matches foo/# only: everything before it has arrived
            await sub.waitForMessages((m) => m.includes('foo/end marker'));
            // Mosquitto sends one copy per matching subscription unless told false; moat always sends one (and warns about true).
            const copies = target.name === 'mosquitto' && allow ? 2 : 1;
            assert.deepEqual(sub.messages, [...Array<string>(copies).fill('foo/bar/baz once'), 'foo/end marker']);
          } finally {
            await sub.stop();
          }
          if (target.name === 'moat') {
            const warning = broker.logs.find((l) => l.includes('"config_warning"') && l.includes('allow_duplicate_messages'));
            assert.ok(warning !== undefined, broker.logs.join('\n'));
            assert.match(warning, allow ? /unlike Mosquitto, moat does not send a client one copy per matching subscription/ : /deprecated since Mosquitto 2\.0/);
          }
        } finally {
          await broker.stop();
        }
      });
    }
  });
}
