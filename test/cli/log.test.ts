// openLog (the broker's pino logger on bounded destinations): lines that do not fit the buffer are
// dropped, counted, and reported in one line once the destination has written what it held.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openLog } from '../../src/cli/log.js';
import type { LogConfig } from '../../src/config/types.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const fileLog = (file: string): LogConfig => ({ destinations: ['file'], file, types: ['information'], timestamp: false, timestampFormat: undefined, connectionMessages: true });

test('a burst larger than the buffer: what fits is written, the rest dropped, and one line reports exactly how many', async () => {
  const file = join(dir, 'burst', 'moat.log'); // the directory is made
  const log = await openLog(fileLog(file), false, 4096);
  // All in one turn: nothing is written before the buffer is full.
  const burst = 500;
  for (let i = 0; i < burst; i++) log.logger.info({ event: 'burst', i }, 'a line of the burst');
  assert.equal(await log.drain(5000), true);
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const written = lines.filter((l) => l['event'] === 'burst');
  const reports = lines.filter((l) => l['event'] === 'log_lines_dropped');
  assert.equal(reports.length, 1);
  const [report] = reports;
  assert.ok(written.length > 0 && written.length < burst / 2, `${written.length} written`);
  assert.equal(report?.['count'], burst - written.length);
  assert.equal(report?.['total'], burst - written.length);
  assert.equal(report?.['destination'], file);
  assert.equal(report?.['level'], 40);
  assert.equal(report?.['msg'], `dropped ${burst - written.length} log lines: ${file} did not take them fast enough`);
  // The first lines are kept, in order: the drops are the newest.
  assert.deepEqual(written.map((l) => l['i']), written.map((_, i) => i));
});

test('within the buffer nothing is dropped and nothing is reported', async () => {
  const file = join(dir, 'calm.log');
  const log = await openLog(fileLog(file), false);
  for (let i = 0; i < 100; i++) log.logger.info({ event: 'calm', i }, 'a calm line');
  assert.equal(await log.drain(5000), true);
  const text = readFileSync(file, 'utf8');
  assert.equal(text.trim().split('\n').length, 100);
  assert.ok(!text.includes('log_lines_dropped'));
  assert.equal(log.sinks[0]?.droppedTotal, 0);
});

test('drain() answers at once when nothing is pending', async () => {
  const log = await openLog(fileLog(join(dir, 'idle.log')), false);
  const started = performance.now();
  assert.equal(await log.drain(5000), true);
  assert.ok(performance.now() - started < 1000);
});
