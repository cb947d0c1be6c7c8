// Interop: Debian's mosquitto_pub / mosquitto_sub (libmosquitto, MQTT 3.1.1 and 5) against each broker.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { RunningBroker } from '../kit/broker.js';
import { brokerArgs, runMosquittoPub, runMosquittoSub, startMosquittoSub, type MosquittoSub } from '../kit/clients.js';
import { brokerTargets } from '../kit/targets.js';

const VERSIONS = [
  { flag: 'mqttv311', label: 'MQTT 3.1.1' },
  { flag: 'mqttv5', label: 'MQTT 5' },
] as const;

/** Every mosquitto_sub message line: topic|qos|retain|payload. */
const FORMAT = ['-F', '%t|%q|%r|%p'];

for (const target of brokerTargets()) {
  describe(`mosquitto_pub/mosquitto_sub against ${target.name}`, () => {
    let broker: RunningBroker | undefined;
    const subs: MosquittoSub[] = [];

    before(async () => {
      broker = await target.start();
    });
    after(async () => {
      await Promise.all(subs.map((s) => s.kill()));
      await broker?.stop();
    });

    const b = (): RunningBroker => {
      assert.ok(broker, `${target.name} did not start`);
      return broker;
    };
    const topicBase = (name: string): string => `interop/${target.name}/${name}/${randomUUID().slice(0, 8)}`;
    const sub = async (args: string[]): Promise<MosquittoSub> => {
      const s = await startMosquittoSub([...brokerArgs(b()), ...args]);
      subs.push(s);
      return s;
    };

    for (const { flag, label } of VERSIONS) {
      const V = ['-V', flag];

      for (const qos of [0, 1, 2] as const) {
        test(`${label}: QoS ${qos} publishes reach a QoS ${qos} subscriber in order with payload and QoS intact`, async () => {
          const topic = `${topicBase(`qos${qos}`)}/temp`;
          const s = await sub([...V, '-q', String(qos), '-t', topic, ...FORMAT]);
          const payloads = [`first ${qos}`, 'zweite Nachricht – ünïcödé', `third ${'x'.repeat(300)}`];
          for (const payload of payloads) {
            await runMosquittoPub([...brokerArgs(b()), ...V, '-q', String(qos), '-t', topic, '-m', payload]);
          }
          const got = await s.waitForMessages(payloads.length, 5000);
          assert.deepEqual(
            got,
            payloads.map((p) => `${topic}|${qos}|0|${p}`),
          );
          await s.stop();
        });
      }

      test(`${label}: a QoS 2 publish to a QoS 1 subscription is delivered at QoS 1 (the lower of the two)`, async () => {
        const topic = `${topicBase('downgrade')}/x`;
        const s = await sub([...V, '-q', '1', '-t', topic, ...FORMAT]);
        await runMosquittoPub([...brokerArgs(b()), ...V, '-q', '2', '-t', topic, '-m', 'downgraded']);
        assert.deepEqual(await s.waitForMessages(1, 5000), [`${topic}|1|0|downgraded`]);
        await s.stop();
      });

      test(`${label}: a retained message is delivered to a later subscriber with the retain flag set`, async () => {
        const topic = `${topicBase('retained')}/state`;
        await runMosquittoPub([...brokerArgs(b()), ...V, '-q', '1', '-r', '-t', topic, '-m', 'on']);
        const out = await runMosquittoSub([...brokerArgs(b()), ...V, '-t', topic, '-C', '1', '-W', '5', ...FORMAT]);
        assert.deepEqual(out.stdout, [`${topic}|0|1|on`], `mosquitto_sub stderr: ${out.stderr.join('\n')}`);
        assert.equal(out.code, 0);
      });

      test(`${label}: a newer retained message replaces the older one`, async () => {
        const topic = `${topicBase('retained-replace')}/state`;
        await runMosquittoPub([...brokerArgs(b()), ...V, '-q', '1', '-r', '-t', topic, '-m', 'old']);
        await runMosquittoPub([...brokerArgs(b()), ...V, '-q', '1', '-r', '-t', topic, '-m', 'new']);
        const out = await runMosquittoSub([...brokerArgs(b()), ...V, '-t', topic, '-C', '1', '-W', '5', ...FORMAT]);
        assert.deepEqual(out.stdout, [`${topic}|0|1|new`]);
      });

      test(`${label}: an empty retained payload (-n -r) clears the retained message`, async () => {
        const base = topicBase('retained-clear');
        const topic = `${base}/state`;
        await runMosquittoPub([...brokerArgs(b()), ...V, '-q', '1', '-r', '-t', topic, '-m', 'on']);
        const before = await runMosquittoSub([...brokerArgs(b()), ...V, '-t', topic, '-C', '1', '-W', '5', ...FORMAT]);
        assert.deepEqual(before.stdout, [`${topic}|0|1|on`], 'the retained message was not stored in the first place');

        await runMosquittoPub([...brokerArgs(b()), ...V, '-q', '1', '-r', '-n', '-t', topic]);
        // -W 1: a retained message would arrive within milliseconds of SUBACK; none must come.
        const out = await runMosquittoSub([...brokerArgs(b()), ...V, '-t', `${base}/#`, '-C', '1', '-W', '1', ...FORMAT]);
        assert.deepEqual(out.stdout, [], 'a subscriber still received a retained message after it was cleared');
        assert.equal(out.code, 27, `mosquitto_sub should end by its -W timeout (exit 27); stderr: ${out.stderr.join('\n')}`);
      });

      test(`${label}: the will of a client whose process is SIGKILLed is published to other subscribers`, async () => {
        const base = topicBase('will-killed');
        const willTopic = `${base}/status`;
        const watcher = await sub([...V, '-q', '1', '-t', `${base}/#`, ...FORMAT]);
        const victim = await sub([
          ...V,
          '-t',
          `${base}/inbox`,
          '--will-topic',
          willTopic,
          '--will-payload',
          'offline (killed)',
          '--will-qos',
          '1',
        ]);
        const exit = await victim.kill();
        assert.equal(exit.signal, 'SIGKILL');
        assert.deepEqual(await watcher.waitForMessages(1, 5000), [`${willTopic}|1|0|offline (killed)`]);
        await watcher.stop();
      });

      test(`${label}: a client that disconnects cleanly does not publish its will`, async () => {
        const base = topicBase('will-clean');
        const watcher = await sub([...V, '-q', '1', '-t', `${base}/#`, ...FORMAT]);
        // -C 1: the victim exits after one message, sending DISCONNECT first.
        const victim = await sub([
          ...V,
          '-q',
          '1',
          '-C',
          '1',
          '-t',
          `${base}/inbox`,
          '--will-topic',
          `${base}/status`,
          '--will-payload',
          'offline (should not be sent)',
        ]);
        await runMosquittoPub([...brokerArgs(b()), ...V, '-q', '1', '-t', `${base}/inbox`, '-m', 'bye']);
        const exit = await victim.exited;
        assert.equal(exit.code, 0, victim.process.formatLogs());
        assert.ok(
          victim.debug.some((l) => / sending DISCONNECT/.test(l)),
          `mosquitto_sub did not send DISCONNECT\n${victim.process.formatLogs()}`,
        );
        // Give a (wrong) will time to be routed, then publish a sentinel after it.
        await new Promise((resolve) => setTimeout(resolve, 300));
        await runMosquittoPub([...brokerArgs(b()), ...V, '-q', '1', '-t', `${base}/sentinel`, '-m', 'end']);
        const got = await watcher.waitForMessages((m) => m.some((line) => line.startsWith(`${base}/sentinel|`)), 5000);
        assert.deepEqual(got, [`${base}/inbox|1|0|bye`, `${base}/sentinel|1|0|end`]);
        await watcher.stop();
      });
    }
  });
}
