import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareIncludeNames, ConfigError, loadConfig } from '../../src/config/index.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'moat-config-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function rejects(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('include names sort as mosquitto does: case-insensitive, upper case first', () => {
  const names = ['b.conf', 'A.conf', '01.conf', 'a.conf', 'B.conf', '00.conf'];
  assert.deepEqual([...names].sort(compareIncludeNames), ['00.conf', '01.conf', 'A.conf', 'a.conf', 'B.conf', 'b.conf']);
});

test('loadConfig reads a file from disk', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'moat.conf');
    await writeFile(file, 'listener 1883\nmax_keepalive 30\n');
    const c = await loadConfig(file);
    assert.equal(c.maxKeepalive, 30);
    assert.deepEqual(c.files, [file]);
    assert.equal(c.listeners[0]?.source.file, file);
  });
});

test('loadConfig: a missing file is a ConfigError naming it', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'missing.conf');
    const err = await rejects(loadConfig(file));
    assert.equal(err.message, `${file}: cannot read the config file: it does not exist. Fix: check the path and its permissions.`);
  });
});

test('include_dir reads *.conf in mosquitto order, in place, later lines override earlier ones', async () => {
  await withDir(async (dir) => {
    const conf = join(dir, 'conf.d');
    await mkdir(conf);
    await writeFile(join(conf, 'b.conf'), 'max_queued_messages 300\n');
    await writeFile(join(conf, 'A.conf'), 'max_queued_messages 100\nlistener 1884\n');
    await writeFile(join(conf, 'a.conf'), 'max_queued_messages 200\nsys_interval 5\n');
    await writeFile(join(conf, 'README'), 'this is not a config file\n');
    await mkdir(join(conf, 'sub.conf'));
    const main = join(dir, 'mosquitto.conf');
    await writeFile(main, 'listener 1883\nsys_interval 7\ninclude_dir conf.d\nmax_inflight_messages 5\n');
    const c = await loadConfig(main);
    assert.deepEqual(c.files, [main, join(conf, 'A.conf'), join(conf, 'a.conf'), join(conf, 'b.conf')]);
    assert.equal(c.maxQueuedMessages, 300);
    assert.equal(c.sysInterval, 5);
    assert.equal(c.maxInflightMessages, 5);
    assert.deepEqual(c.listeners.map((l) => [l.port, l.source.file, l.source.line]), [
      [1883, main, 1],
      [1884, join(conf, 'A.conf'), 2],
    ]);
  });
});

test('include_dir: an absolute path works, and each included file starts outside any listener block', async () => {
  await withDir(async (dir) => {
    const conf = join(dir, 'extra');
    await mkdir(conf);
    // Starts outside the main file's listener block: max_connections here would configure the default listener.
    await writeFile(join(conf, 'x.conf'), 'max_connections 5\n');
    const main = join(dir, 'main.conf');
    await writeFile(main, `listener 1883\ninclude_dir ${conf}\n`);
    const err = await rejects(loadConfig(main));
    assert.equal(err.issues.length, 1);
    assert.equal(err.issues[0]?.file, join(conf, 'x.conf'));
    assert.match(err.message, new RegExp(`^${join(conf, 'x.conf').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1: max_connections comes before any "listener" line`));
  });
});

test('include_dir: errors name the included file and line, together with the main file errors', async () => {
  await withDir(async (dir) => {
    const conf = join(dir, 'conf.d');
    await mkdir(conf);
    await writeFile(join(conf, '10-limits.conf'), '# limits\nmax_keepalive ten\n');
    await writeFile(join(conf, '20-store.conf'), 'listener 8883\nhttp_dir /var/www\n');
    const main = join(dir, 'mosquitto.conf');
    await writeFile(main, 'include_dir conf.d\nbogus_option 1\n');
    const err = await rejects(loadConfig(main));
    assert.deepEqual(
      err.issues.map((i) => [i.file, i.line, i.kind]),
      [
        [main, 2, 'unknown-option'],
        [join(conf, '10-limits.conf'), 2, 'invalid-value'],
        [join(conf, '20-store.conf'), 2, 'not-yet-supported'],
      ],
    );
    assert.ok(err.message.includes(`  ${join(conf, '10-limits.conf')}:2: max_keepalive expects a whole number 0-65535, got "ten".`));
  });
});

test('include_dir: a missing directory is an error on the include_dir line', async () => {
  await withDir(async (dir) => {
    const main = join(dir, 'mosquitto.conf');
    await writeFile(main, 'listener 1883\ninclude_dir nowhere\n');
    const err = await rejects(loadConfig(main));
    assert.equal(
      err.message,
      `${main}:2: include_dir nowhere: cannot read directory "${join(dir, 'nowhere')}": it does not exist. ` +
        'Fix: create the directory or correct the path (a relative path is relative to the main config file).',
    );
  });
});

test('include_dir: only in the main file', async () => {
  await withDir(async (dir) => {
    const conf = join(dir, 'conf.d');
    await mkdir(conf);
    await writeFile(join(conf, 'nested.conf'), 'include_dir /tmp\n');
    const main = join(dir, 'mosquitto.conf');
    await writeFile(main, 'include_dir conf.d\n');
    const err = await rejects(loadConfig(main));
    assert.equal(
      err.message,
      `${join(conf, 'nested.conf')}:1: include_dir only works in the main config file (mosquitto ignores it in included files). Fix: move this line to ${main}.`,
    );
  });
});

test('include_dir: the directory must not contain the main file', async () => {
  await withDir(async (dir) => {
    const main = join(dir, 'mosquitto.conf');
    await writeFile(main, 'include_dir .\n');
    const err = await rejects(loadConfig(main));
    assert.match(err.message, /include_dir \.: the directory contains the main config file .*which would be read twice/);
  });
});

test('include_dir: an empty directory is fine', async () => {
  await withDir(async (dir) => {
    await mkdir(join(dir, 'conf.d'));
    const main = join(dir, 'mosquitto.conf');
    await writeFile(main, 'include_dir conf.d\n');
    const c = await loadConfig(main);
    assert.equal(c.localOnly, true);
    assert.deepEqual(c.files, [main]);
  });
});
