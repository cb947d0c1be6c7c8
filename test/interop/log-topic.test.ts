// log_dest topic: the log also goes out on $SYS/broker/log/<letter> as "<unix seconds>: <message>",
// as Mosquitto's does. The same config on moat and Debian's Mosquitto 2.0.11: a client connecting
// is a notice (N) naming its client id, a refused login a warning or notice naming the reason.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { brokerArgs, brokerTargets, runMosquittoPub, startMosquittoSub, type MosquittoSub, type RunningBroker } from '../kit/index.js';

for (const target of brokerTargets()) {
  describe(`log_dest topic (${target.name})`, () => {
    let broker: RunningBroker;
    let logs: MosquittoSub;
    before(async () => {
      broker = await target.start({ extraConfig: 'log_dest stderr\nlog_dest topic\n' });
      logs = await startMosquittoSub([...brokerArgs(broker), '-v', '-t', '$SYS/broker/log/#', '-i', 'log-watcher']);
    });
    after(async () => {
      await logs?.process.kill();
      await broker?.stop();
    });

    test('a client connecting is a notice on $SYS/broker/log/N naming its client id, as "<seconds>: <message>"', async () => {
      const before = Math.floor(Date.now() / 1000);
      await runMosquittoPub([...brokerArgs(broker), '-i', 'probe-log-1', '-t', 'x', '-m', 'y']);
      const lines = await logs.waitForMessages((m) => m.some((l) => l.startsWith('$SYS/broker/log/N ') && l.includes('probe-log-1')));
      const line = lines.find((l) => l.startsWith('$SYS/broker/log/N ') && l.includes('probe-log-1')) as string;
      const match = /^\$SYS\/broker\/log\/N (\d+): /.exec(line);
      assert.ok(match, line);
      const seconds = Number(match[1]);
      assert.ok(seconds >= before - 1 && seconds <= Math.floor(Date.now() / 1000) + 1, line);
      // Every topic used is one of Mosquitto's letters.
      for (const l of lines) assert.match(l, /^\$SYS\/broker\/log\/(E|W|N|I|D|M|U) \d+: /);
    });
  });
}
