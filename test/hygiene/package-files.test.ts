// What `npm pack` would ship (package.json "files"): the compiled library and CLI under build/src, the
// README and docs/ — not the compiled tests, benchmarks or examples, nor the TypeScript sources.
// `npm pack --dry-run` reads only the working tree (no registry), so this runs offline.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../kit/paths.js';

const run = promisify(execFile);

interface PackResult {
  readonly files: readonly { readonly path: string }[];
}

async function packedPaths(): Promise<string[]> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '--loglevel=error'], {
    cwd: repoRoot,
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
    shell: process.platform === 'win32',
  });
  const [result] = JSON.parse(stdout) as PackResult[];
  assert.ok(result !== undefined, `npm pack --dry-run --json printed no package:\n${stdout}`);
  return result.files.map((file) => file.path.split('\\').join('/'));
}

/** The paths package.json's "bin" and "exports" point at, without the leading "./". */
function entryPoints(): string[] {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    bin?: string | Record<string, string>;
    exports?: Record<string, string>;
  };
  const bin = typeof pkg.bin === 'string' ? [pkg.bin] : Object.values(pkg.bin ?? {});
  return [...bin, ...Object.values(pkg.exports ?? {})].map((path) => path.replace(/^\.\//, ''));
}

test('npm pack ships build/src, README.md and docs/, not compiled tests, benchmarks or sources', async () => {
  const paths = await packedPaths();
  const shipped = new Set(paths);

  const unwanted = paths.filter((path) => /^(build\/(test|bench|examples)|src|test|bench|examples|scripts)\//.test(path));
  assert.deepEqual(unwanted, [], 'these should not be in the package; see "files" in package.json');

  const required = [
    'README.md',
    'docs/ARCHITECTURE.md',
    'package.json',
    'build/src/cli/index.js',
    'build/src/cli/index.d.ts',
    'build/src/broker/index.js',
    'build/src/broker/index.d.ts',
    'build/src/client/index.js',
    'build/src/client/index.d.ts',
  ];
  assert.deepEqual(required.filter((path) => !shipped.has(path)), [], 'missing from the package (is build/ built?)');

  const entries = entryPoints();
  assert.ok(entries.length >= 4, `expected bin and exports entries in package.json, found ${entries.join(', ')}`);
  const missingEntries = entries
    .flatMap((path) => (path.endsWith('.js') ? [path, path.replace(/\.js$/, '.d.ts')] : [path]))
    .filter((path) => !shipped.has(path));
  assert.deepEqual(missingEntries, [], 'package.json bin/exports point at files the package does not ship');
});
