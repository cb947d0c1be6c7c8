// Where a Node process's heap goes, per constructor: `node build/bench/heap-summary.js AFTER.heapsnapshot
// [BEFORE.heapsnapshot] [--per N] [--top 40]`. Sums self sizes by node type and name (constructor for
// objects, "(closure) name" for functions, "(string)", "(array)", "system / Map", ...), and with a
// BEFORE snapshot prints the growth; --per N divides by N (e.g. connections held) to read bytes per
// connection. Self sizes, not retained: every object is counted once, so the rows add up to the heap.
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

function summarize(file: string): Map<string, { count: number; bytes: number }> {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = s.snapshot.meta.node_types[0];
  const rows = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + typeAt] as number] ?? '?';
    let name = s.strings[s.nodes[i + nameAt] as number] ?? '?';
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(string)';
    else if (type === 'number') name = '(heap number)';
    else if (type === 'code') name = '(code)';
    else if (type === 'array') name = `(array) ${name.length > 40 ? name.slice(0, 40) : name}`;
    else if (type === 'closure') name = `(closure) ${name}`;
    else if (type === 'hidden' || type === 'object shape') name = `(${type}) ${name.slice(0, 50)}`;
    else if (type === 'native') name = `(native) ${name.slice(0, 60)}`;
    else name = name.slice(0, 60);
    const row = rows.get(name) ?? { count: 0, bytes: 0 };
    row.count++;
    row.bytes += s.nodes[i + sizeAt] as number;
    rows.set(name, row);
  }
  return rows;
}

const args = process.argv.slice(2);
const opt = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args.splice(i, 2)[1]) : fallback;
};
const per = opt('per', 1);
const top = opt('top', 40);
const [afterFile, beforeFile] = args;
if (afterFile === undefined) throw new Error('usage: heap-summary AFTER.heapsnapshot [BEFORE.heapsnapshot] [--per N] [--top 40]');
const after = summarize(afterFile);
const before = beforeFile === undefined ? new Map<string, { count: number; bytes: number }>() : summarize(beforeFile);
const diff = [...after].map(([name, a]) => {
  const b = before.get(name) ?? { count: 0, bytes: 0 };
  return { name, count: (a.count - b.count) / per, bytes: (a.bytes - b.bytes) / per };
});
diff.sort((x, y) => y.bytes - x.bytes);
const total = diff.reduce((sum, d) => sum + d.bytes, 0);
process.stdout.write(`${per === 1 ? 'bytes' : `bytes per 1/${per}`}: total ${total.toFixed(1)}\n`);
for (const d of diff.slice(0, top)) process.stdout.write(`${d.bytes.toFixed(1).padStart(10)}  ${d.count.toFixed(2).padStart(7)}×  ${d.name}\n`);
