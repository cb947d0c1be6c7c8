// The runtime import graph of a TypeScript source tree, read from the text of its static imports, and the
// cycles in it. Used by test/hygiene/import-cycles.test.ts; no dependency beyond node:fs and node:path.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** Every .ts file under `dir` (recursively), as absolute paths in a stable order. `.d.ts` files are left out. */
export function listTsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTsFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out.sort();
}

/** A static `import ... from` / `export ... from` / `import '...'` statement that survives compilation. */
export interface RuntimeImport {
  readonly specifier: string;
  /** 1-based line of the statement. */
  readonly line: number;
}

// Block and line comments, replaced by spaces of the same shape so that line numbers stay right. String
// contents are not parsed: a statement-looking line inside a template literal would be misread, which the
// sources do not contain.
function blankComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (comment) => comment.replace(/[^\n]/g, ' '));
}

const STATEMENT =
  /^[ \t]*(import|export)\s+(?:(type)\s+)?([^;'"]*?)\s*\bfrom\s*(['"])([^'"\n]+)\4|^[ \t]*import\s*(['"])([^'"\n]+)\6/gm;

/** True when every name in a `{ ... }` clause is marked `type` (TypeScript then drops the whole statement). */
function onlyTypeNames(clause: string): boolean {
  const braces = /^\{([\s\S]*)\}$/.exec(clause.trim());
  if (braces?.[1] === undefined) return false;
  const names = braces[1]
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  return names.length > 0 && names.every((name) => /^type\s/.test(name));
}

/**
 * The static imports and re-exports of `text` that remain in the compiled JavaScript: `import type` and
 * `export type` statements, and `{ ... }` clauses that name only `type` members, are left out (they vanish at
 * runtime); `import { type A, b }` counts. Dynamic `import()` is not a static import and is not listed.
 */
export function runtimeImports(text: string): RuntimeImport[] {
  const source = blankComments(text);
  const out: RuntimeImport[] = [];
  for (const match of source.matchAll(STATEMENT)) {
    const line = source.slice(0, match.index).split('\n').length;
    const sideEffect = match[7];
    if (sideEffect !== undefined) {
      out.push({ specifier: sideEffect, line });
      continue;
    }
    const [, , typeOnly, clause = '', , specifier] = match;
    if (specifier === undefined || typeOnly !== undefined || onlyTypeNames(clause)) continue;
    out.push({ specifier, line });
  }
  return out;
}

/** File -> files it imports at runtime (relative specifiers only, `.js` resolved to the `.ts` source). */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

/** The runtime import graph of `files` (absolute paths); edges to files outside the set are dropped. */
export function buildImportGraph(files: readonly string[]): ImportGraph {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets: string[] = [];
    for (const { specifier } of runtimeImports(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
      if (known.has(target) && !targets.includes(target)) targets.push(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Files that import each other, directly or through each other. */
export interface ImportCycle {
  /** A shortest cycle through the component's first file (by name): starts and ends with it, e.g. [a, b, a]. */
  readonly path: readonly string[];
  /** Every file of the strongly connected component, sorted; more than `path` shows when cycles share files. */
  readonly members: readonly string[];
}

/** The cycles of `graph`: one per strongly connected component that has one (Tarjan). */
export function findCycles(graph: ImportGraph): ImportCycle[] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];

  const connect = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        connect(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component);
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) connect(node);

  const cycles: ImportCycle[] = [];
  for (const component of components) {
    const members = new Set(component);
    const sorted = [...component].sort();
    const start = sorted[0]!;
    if (component.length === 1 && !(graph.get(start) ?? []).includes(start)) continue;
    // Breadth-first from start, inside the component, back to start.
    const previous = new Map<string, string>();
    const queue = [start];
    let closing: string | undefined;
    while (queue.length > 0 && closing === undefined) {
      const node = queue.shift()!;
      for (const next of graph.get(node) ?? []) {
        if (!members.has(next)) continue;
        if (next === start) {
          closing = node;
          break;
        }
        if (!previous.has(next)) {
          previous.set(next, node);
          queue.push(next);
        }
      }
    }
    const path = [start];
    for (let node = closing; node !== undefined && node !== start; node = previous.get(node)) path.unshift(node);
    path.unshift(start);
    cycles.push({ path, members: sorted });
  }
  return cycles.sort((a, b) => a.path[0]!.localeCompare(b.path[0]!));
}

function show(file: string, root: string): string {
  return relative(root, file).split(sep).join('/');
}

/** `a -> b -> a`, with paths relative to `root` and written with "/"; other files of the component follow. */
export function formatCycle(cycle: ImportCycle, root: string): string {
  const text = cycle.path.map((file) => show(file, root)).join(' -> ');
  const others = cycle.members.filter((file) => !cycle.path.includes(file));
  return others.length === 0 ? text : `${text} (also in this cycle: ${others.map((file) => show(file, root)).join(', ')})`;
}
