// The hashing pool (issue 9): PBKDF2-SHA512 and SHA-512 computed in moat's own worker threads —
// the same bytes as Node's crypto, started on the first job, idle workers never keeping the process
// alive, libuv's thread pool (file reads, DNS) left free, and a worker that dies failing only its job.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, pbkdf2Sync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { defaultHashWorkers, HashPool, HashPoolError } from '../../src/auth/hash-pool.js';
import { DEFAULT_PBKDF2_ITERATIONS } from '../../src/auth/password-file.js';
import { ignoreAuthEvents } from '../../src/auth/auth-events.js';
import { recordEvents } from '../kit/event-records.js';

const SALT = Buffer.alloc(12, 5);
const FAILING_WORKER = new URL('./fixtures/failing-hash-worker.js', import.meta.url);

test('the default size is one worker per core, at least 1 and at most 4', () => {
  const size = defaultHashWorkers();
  assert.ok(size >= 1 && size <= 4, `size ${size}`);
  assert.equal(new HashPool({ report: ignoreAuthEvents }).size, size);
  assert.throws(() => new HashPool({ size: 0, report: ignoreAuthEvents }), { name: 'MoatError', code: 'MOAT_ERR_INVALID_ARGUMENT' });
});

test('PBKDF2-SHA512 and SHA-512(password ‖ salt) give the bytes Node computes; workers start with the first job', async () => {
  const pool = new HashPool({ size: 2, report: ignoreAuthEvents });
  try {
    assert.equal(pool.workers, 0, 'nothing is started before the first job');
    const password = Buffer.from('s3cret');
    const pbkdf2 = await pool.digest({ kind: 'sha512-pbkdf2', iterations: 1000 }, password, SALT);
    assert.deepEqual(pbkdf2, pbkdf2Sync(password, SALT, 1000, 64, 'sha512'));
    const sha = await pool.digest({ kind: 'sha512' }, password, SALT);
    assert.deepEqual(sha, createHash('sha512').update(password).update(SALT).digest());
    const many = await Promise.all(Array.from({ length: 5 }, (_, i) => pool.digest({ kind: 'sha512-pbkdf2', iterations: 100 }, Buffer.from(`p${i}`), SALT)));
    many.forEach((digest, i) => assert.deepEqual(digest, pbkdf2Sync(`p${i}`, SALT, 100, 64, 'sha512')));
    assert.ok(pool.workers >= 1 && pool.workers <= 2, `${pool.workers} workers`);
    assert.equal(pool.pending, 0);
  } finally {
    pool.close();
  }
});

test("file reads in libuv's thread pool are not starved while the pool hashes at 210,000 iterations", async (t) => {
  const pool = new HashPool({ size: 2, report: ignoreAuthEvents });
  try {
    // Twice as many checks as workers, each a few hundred ms: with crypto.pbkdf2 these would hold libuv's threads.
    const checks = Array.from({ length: 4 }, (_, i) => pool.digest({ kind: 'sha512-pbkdf2', iterations: DEFAULT_PBKDF2_ITERATIONS }, Buffer.from(`p${i}`), SALT));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const reads: number[] = [];
    for (let i = 0; i < 8; i++) {
      const started = performance.now();
      await Promise.all([readFile(fileURLToPath(import.meta.url)), readFile(fileURLToPath(import.meta.url)), readFile(fileURLToPath(import.meta.url)), readFile(fileURLToPath(import.meta.url))]);
      reads.push(performance.now() - started);
    }
    const pending = pool.pending;
    await Promise.all(checks);
    const worst = Math.max(...reads);
    t.diagnostic(`4 parallel file reads while ${pending} checks were pending: worst ${worst.toFixed(1)} ms`);
    assert.ok(pending > 0, 'the checks finished before the reads: the test measured nothing');
    assert.ok(worst < 100, `file reads waited ${worst.toFixed(1)} ms behind password hashing`);
  } finally {
    pool.close();
  }
});

test('a worker that exits or throws fails only its own job (HashPoolError, 0x80), is logged and replaced', async () => {
  const { auth: report, records } = recordEvents();
  const pool = new HashPool({ size: 1, report, workerUrl: FAILING_WORKER });
  try {
    const spec = { kind: 'sha512-pbkdf2', iterations: 10 } as const;
    for (const cue of ['exit', 'throw', 'wrong-id']) {
      const error = await pool.digest(spec, Buffer.from(cue), SALT).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error instanceof HashPoolError, `${cue}: ${String(error)}`);
      assert.equal(error.code, 'MOAT_ERR_HASH_POOL');
      assert.equal(error.reasonCode, 0x80);
      // The next job gets a working worker.
      assert.deepEqual(await pool.digest(spec, Buffer.from('fine'), SALT), pbkdf2Sync('fine', SALT, 10, 64, 'sha512'));
    }
    const failed = records.filter((r) => r['event'] === 'hash_worker_failed');
    assert.ok(failed.length >= 1, 'the first failure is logged (later ones within 10 s are counted into the next record)');
  } finally {
    pool.close();
  }
});

test('close() fails the jobs not done and refuses new ones', async () => {
  const pool = new HashPool({ size: 1, report: ignoreAuthEvents });
  const running = pool.digest({ kind: 'sha512-pbkdf2', iterations: DEFAULT_PBKDF2_ITERATIONS }, Buffer.from('a'), SALT);
  const waiting = pool.digest({ kind: 'sha512-pbkdf2', iterations: DEFAULT_PBKDF2_ITERATIONS }, Buffer.from('b'), SALT);
  pool.close();
  await assert.rejects(running, HashPoolError);
  await assert.rejects(waiting, HashPoolError);
  await assert.rejects(pool.digest({ kind: 'sha512' }, Buffer.from('c'), SALT), /closed/);
});

test('idle workers do not keep the process alive: a program that hashed once and never closed the pool exits', async () => {
  const module = new URL('../../src/auth/hash-pool.js', import.meta.url).href;
  const script = [
    `import { HashPool } from ${JSON.stringify(module)};`,
    'const pool = new HashPool({ size: 2, report: () => {} });',
    "const digest = await pool.digest({ kind: 'sha512-pbkdf2', iterations: 1000 }, Buffer.from('x'), Buffer.alloc(12));",
    'console.log(digest.length, pool.workers);',
  ].join('\n');
  const started = performance.now();
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 });
  assert.equal(stdout.trim(), '64 1');
  assert.ok(performance.now() - started < 5000, 'the process lingered');
});
