// src/ re-exports by name: `export * from` hides what a module makes public (and lets a name added to the
// inner module leak into the public API unnoticed). Write `export { a, type B } from '...'` instead.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { listTsFiles } from '../kit/import-graph.js';
import { repoRoot } from '../kit/paths.js';

test('src/ has no `export *` re-exports', () => {
  const found: string[] = [];
  for (const file of listTsFiles(join(repoRoot, 'src'))) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((text, index) => {
        if (/^\s*export\s+(?:type\s+)?\*/.test(text)) found.push(`${relative(repoRoot, file)}:${index + 1}: ${text.trim()}`);
      });
  }
  assert.deepEqual(found, [], `list the names instead:\n  ${found.join('\n  ')}`);
});
