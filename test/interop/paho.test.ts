// Interop: Eclipse Paho for Python (Debian's python3-paho-mqtt) subscribing, MQTT 3.1.1 and 5.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { RunningBroker } from '../kit/broker.js';
import { brokerArgs, runMosquittoPub } from '../kit/clients.js';
import { sourcePath } from '../kit/paths.js';
import { spawnTracked, type TrackedProcess } from '../kit/process.js';
import { brokerTargets } from '../kit/targets.js';

/** Debian's python, which has paho; the `python3` on PATH may be another one without it. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = sourcePath('test', 'interop', 'paho_sensors.py');

for (const target of brokerTargets()) {
  describe(`paho-mqtt (python) against ${target.name}`, () => {
    let broker: RunningBroker | undefined;
    const scripts: TrackedProcess[] = [];

    before(async () => {
      broker = await target.start();
    });
    after(async () => {
      await Promise.all(scripts.map((s) => s.kill()));
      await broker?.stop();
    });

    for (const protocol of ['311', '5'] as const) {
      const label = protocol === '5' ? 'MQTT 5' : 'MQTT 3.1.1';
      test(`${label}: a paho subscriber to sensors/# prints every sensor message and nothing else`, async () => {
        assert.ok(broker, `${target.name} did not start`);
        const id = randomUUID().slice(0, 8);
        const messages = [
          { topic: `sensors/${id}/temperature`, payload: '21.5' },
          { topic: `sensors/${id}/humidity`, payload: '40%' },
          { topic: `sensors/${id}/door/front`, payload: '{"open":false}' },
        ];
        const script = await spawnTracked(
          PYTHON,
          ['-u', SCRIPT, broker.host, String(broker.port), String(messages.length), '--protocol', protocol, '--timeout', '15'],
          { name: `paho_sensors.py (${label})` },
        );
        scripts.push(script);
        await script.waitForLine((line) => line === 'Subscribed to sensors/#', 10_000, 'the SUBACK ("Subscribed to sensors/#")');

        // Not under sensors/: must not be printed.
        await runMosquittoPub([...brokerArgs(broker), '-q', '1', '-t', `alerts/${id}/fire`, '-m', 'no']);
        for (const { topic, payload } of messages) {
          await runMosquittoPub([...brokerArgs(broker), '-q', '1', '-t', topic, '-m', payload]);
        }
        const exit = await script.exited;
        assert.equal(exit.code, 0, script.formatLogs());
        assert.deepEqual(
          script.stdout,
          ['Subscribed to sensors/#', ...messages.map(({ topic, payload }) => `Topic: ${topic}, Payload: ${payload}`)],
          script.formatLogs(),
        );
      });
    }
  });
}
