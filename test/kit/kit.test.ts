// The test kit's own tests: the launchers every other suite relies on.
import { NODE_FLAGS } from '../../src/cli/node-flags.js';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { brokerArgs, runMosquittoPub, runMosquittoSub, startMosquittoSub } from './clients.js';
import { moatCommand, startMoat } from './moat.js';
import { startMosquitto } from './mosquitto.js';
import { repoRoot, runningFromBuild } from './paths.js';
import { freePort } from './ports.js';
import { spawnTracked } from './process.js';

test('freePort returns a port that can be bound on 127.0.0.1', async () => {
  const port = await freePort();
  assert.ok(port > 0 && port < 65536);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  await new Promise((resolve) => server.close(resolve));
});

test('repoRoot is the source tree root from both test/kit and build/test/kit', () => {
  assert.ok(existsSync(join(repoRoot, 'package.json')));
  assert.ok(existsSync(join(repoRoot, 'test', 'interop', 'paho_sensors.py')), 'non-TS fixtures are found in the source tree');
});

test('moatCommand runs the built CLI from build/ and the TypeScript CLI through tsx otherwise, with the broker node flags', () => {
  const { command, args } = moatCommand(['broker']);
  assert.equal(command, process.execPath);
  if (runningFromBuild) assert.deepEqual(args, [...NODE_FLAGS, join(repoRoot, 'build', 'src', 'cli', 'index.js'), 'broker']);
  else assert.deepEqual(args, [...NODE_FLAGS, '--import', 'tsx', join(repoRoot, 'src', 'cli', 'index.ts'), 'broker']);
});

test('a tracked process that exits before the awaited line rejects with its output', async () => {
  const child = await spawnTracked(process.execPath, ['-e', 'console.log("hello"); console.error("oops"); process.exitCode = 3'], {
    name: 'node-e',
  });
  await assert.rejects(child.waitForLine((l) => l === 'never', 5000, 'a line that never comes'), (err: Error) => {
    assert.match(err.message, /exited \(code 3/);
    assert.match(err.message, /hello/);
    assert.match(err.message, /oops/);
    return true;
  });
});

test('stop sends SIGTERM by PID and escalates to SIGKILL when the process ignores it', async () => {
  const child = await spawnTracked(process.execPath, [
    '-e',
    'process.on("SIGTERM", () => console.log("ignoring SIGTERM")); console.log("ready"); setInterval(() => {}, 1000)',
  ]);
  await child.waitForLine((l) => l === 'ready', 5000, 'ready');
  const started = Date.now();
  const exit = await child.stop('SIGTERM', 300);
  assert.equal(exit.signal, 'SIGKILL');
  assert.ok(Date.now() - started >= 300);
  assert.ok(child.logs.includes('ignoring SIGTERM'));
});

test('startMosquitto runs a broker that mosquitto_pub/mosquitto_sub can use, and stop ends it', async () => {
  const broker = await startMosquitto();
  try {
    assert.equal(broker.name, 'mosquitto');
    const sub = await startMosquittoSub([...brokerArgs(broker), '-t', 'kit/#', '-v']);
    await runMosquittoPub([...brokerArgs(broker), '-t', 'kit/a', '-m', 'hello']);
    assert.deepEqual(await sub.waitForMessages(1, 5000), ['kit/a hello']);
    await sub.stop();
    const out = await runMosquittoSub([...brokerArgs(broker), '-t', 'kit/none', '-W', '5'], {
      until: () => false,
      timeoutMs: 300,
    });
    assert.equal(out.timedOut, true);
  } finally {
    assert.equal(await broker.stop(), 0);
  }
});

test('startMoat starts the moat CLI on a free port, reports it, and stop() ends it with exit code 0', async () => {
  const broker = await startMoat();
  let code: number | null | undefined;
  try {
    assert.equal(broker.name, 'moat');
    assert.equal(broker.host, '127.0.0.1');
    assert.ok(broker.port > 0, `port ${broker.port}`);
    assert.equal(broker.url, `mqtt://127.0.0.1:${broker.port}`);
    const out = await runMosquittoSub([...brokerArgs(broker), '-t', 'kit/none', '-E']);
    assert.equal(out.code, 0, `mosquitto_sub -E could not subscribe:\n${out.stderr.join('\n')}\n${broker.process.formatLogs()}`);
  } finally {
    code = await broker.stop();
  }
  assert.equal(code, 0, `moat did not exit 0 on SIGTERM\n${broker.process.formatLogs()}`);
});

test('startMoat rejects with the broker output when moat exits before listening', async () => {
  await assert.rejects(startMoat({ config: 'this_is_not_an_option 1\n', timeoutMs: 10_000 }), (err: Error) => {
    assert.match(err.message, /moat/);
    assert.match(err.message, /exited|timed out/);
    return true;
  });
});
