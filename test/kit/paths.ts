import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** True when this kit runs as compiled JS from build/ (then the broker under test is build/src/...). */
export const runningFromBuild: boolean = import.meta.url.endsWith('.js');

function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const name = (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name;
        if (name === 'moat') return dir;
      } catch {
        // not our package.json; keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`test kit: no package.json named "moat" above ${start}`);
    dir = parent;
  }
}

/**
 * The source tree's root (the folder holding package.json), whether the kit runs from
 * test/kit/*.ts or build/test/kit/*.js. Use it for non-TS fixtures, which tsc does not copy to build/.
 */
export const repoRoot: string = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

/** Absolute path of a file in the source tree, e.g. `sourcePath('test/interop/paho_sensors.py')`. */
export function sourcePath(...segments: string[]): string {
  return join(repoRoot, ...segments);
}
