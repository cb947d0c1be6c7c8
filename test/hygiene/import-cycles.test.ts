// No runtime import cycles in src/: a module in a cycle can see its partner half-initialised ("Cannot access
// X before initialization") depending on which one a process happens to import first. Type-only imports
// vanish at runtime and do not count. Shared pieces belong in a leaf module both sides import.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildImportGraph, findCycles, formatCycle, listTsFiles, runtimeImports, type ImportGraph } from '../kit/import-graph.js';
import { repoRoot } from '../kit/paths.js';

test('src/ has no runtime import cycles', () => {
  const files = listTsFiles(join(repoRoot, 'src'));
  assert.ok(files.length > 50, `expected the sources under ${join(repoRoot, 'src')}, found ${files.length}`);
  const graph = buildImportGraph(files);
  const edges = [...graph.values()].reduce((sum, targets) => sum + targets.length, 0);
  assert.ok(edges > files.length, `expected more import edges than files, found ${edges} for ${files.length} files`);
  const cycles = findCycles(graph).map((cycle) => formatCycle(cycle, repoRoot));
  assert.deepEqual(
    cycles,
    [],
    `runtime import cycles (move what both sides need into a leaf module):\n  ${cycles.join('\n  ')}`,
  );
});

test('runtimeImports: keeps what survives compilation, drops type-only statements', () => {
  const text = [
    "import { a } from './a.js';",
    "import type { B } from './b.js';",
    "import { type C, d } from './cd.js';",
    "import { type E, type F } from './ef.js';",
    "import * as g from './g.js';",
    "import h, { type H } from './h.js';",
    "import './side-effect.js';",
    'import {',
    '  i,',
    '  type J,',
    "} from './ij.js';",
    "export { k } from './k.js';",
    "export type { L } from './l.js';",
    "export * from './m.js';",
    "export * as n from './n.js';",
    "// import { o } from './commented.js';",
    "/* export { p } from './block-commented.js'; */",
    "const q = await import('./dynamic.js');",
    "import { readFile } from 'node:fs/promises';",
  ].join('\n');
  assert.deepEqual(runtimeImports(text), [
    { specifier: './a.js', line: 1 },
    { specifier: './cd.js', line: 3 },
    { specifier: './g.js', line: 5 },
    { specifier: './h.js', line: 6 },
    { specifier: './side-effect.js', line: 7 },
    { specifier: './ij.js', line: 8 },
    { specifier: './k.js', line: 12 },
    { specifier: './m.js', line: 14 },
    { specifier: './n.js', line: 15 },
    { specifier: 'node:fs/promises', line: 19 },
  ]);
});

test('findCycles: one path per cycle, closing on its first file', () => {
  const graph: ImportGraph = new Map([
    ['/r/a.ts', ['/r/b.ts']],
    ['/r/b.ts', ['/r/c.ts', '/r/leaf.ts']],
    ['/r/c.ts', ['/r/a.ts']],
    ['/r/d.ts', ['/r/d.ts']],
    ['/r/leaf.ts', []],
    ['/r/x.ts', ['/r/leaf.ts']],
  ]);
  assert.deepEqual(
    findCycles(graph).map((cycle) => formatCycle(cycle, '/r')),
    ['a.ts -> b.ts -> c.ts -> a.ts', 'd.ts -> d.ts'],
  );
  const acyclic: ImportGraph = new Map([
    ['/r/a.ts', ['/r/b.ts']],
    ['/r/b.ts', []],
  ]);
  assert.deepEqual(findCycles(acyclic), []);
});
