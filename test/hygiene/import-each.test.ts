// Every compiled module under build/src can be the first module a fresh process imports: it loads without
// a TDZ error from an import cycle ("Cannot access X before initialization"), prints nothing, starts nothing
// that keeps the process alive, and exits 0. Each module gets its own `node -e "await import(URL)"`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { repoRoot, runningFromBuild } from '../kit/paths.js';

/** build/src, next to this compiled test (build/test/hygiene/). */
const BUILD_SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const PER_MODULE_TIMEOUT_MS = 20_000;

/**
 * Worker-thread entries: they refuse, by design, to run on the main thread, and throw this message once their
 * own imports have loaded. Seeing exactly that refusal (and no other error) shows that those imports load.
 */
const WORKER_ENTRIES: Readonly<Record<string, string>> = {
  'auth/hash-worker.js': "hash-worker.js runs inside moat's hashing pool (a worker thread), not as a program of its own",
  'bench/worker.js': 'bench worker must run in a worker thread',
};
// src/cli/index.ts is not an exception: it runs the CLI only when node was started with it as its script.

function compiledModules(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...compiledModules(path));
    else if (entry.isFile() && entry.name.endsWith('.js')) out.push(path);
  }
  return out.sort();
}

interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

function importInFreshProcess(file: string): Promise<Outcome> {
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT']; // set by node --test for its own children; not ours to pass on
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(file).href)});`],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, PER_MODULE_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

test('every module under build/src imports on its own in a fresh process', { skip: !runningFromBuild, concurrency: 4 }, async (t) => {
  // tsc leaves the output of deleted sources behind; only modules whose .ts still exists are checked.
  const files = compiledModules(BUILD_SRC).filter((file) =>
    existsSync(join(repoRoot, 'src', relative(BUILD_SRC, file)).replace(/\.js$/, '.ts')),
  );
  assert.ok(files.length > 50, `expected the compiled modules under ${BUILD_SRC}, found ${files.length}; run npm run build`);
  assert.ok(files.some((file) => file.endsWith(`${sep}cli${sep}index.js`)), 'build/src/cli/index.js is among them');

  await Promise.all(
    files.map((file) => {
      const name = relative(BUILD_SRC, file).split(sep).join('/');
      return t.test(name, async () => {
        const outcome = await importInFreshProcess(file);
        const report = `exit ${outcome.code ?? outcome.signal}\n--- stderr:\n${outcome.stderr}\n--- stdout:\n${outcome.stdout}`;
        assert.equal(outcome.timedOut, false, `import did not finish within ${PER_MODULE_TIMEOUT_MS} ms: something it starts keeps the process alive\n${report}`);
        const refusal = WORKER_ENTRIES[name];
        if (refusal !== undefined) {
          assert.equal(outcome.code, 1, `worker entry ${name} should refuse to run on the main thread\n${report}`);
          assert.ok(outcome.stderr.includes(`Error: ${refusal}`), `worker entry ${name} should fail only with its own refusal\n${report}`);
          assert.doesNotMatch(outcome.stderr, /ReferenceError|SyntaxError|ERR_MODULE_NOT_FOUND/, report);
          return;
        }
        assert.equal(outcome.code, 0, report);
        assert.equal(outcome.stderr, '', report);
        assert.equal(outcome.stdout, '', report);
      });
    }),
  );
});
