// Summarises a V8 .cpuprofile (from `node --cpu-prof`): the top functions by self time.
// Usage: node build/bench/profile-summary.js FILE.cpuprofile [N]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeRow {
  name: string;
  where: string;
  selfMs: number;
  percent: number;
}

export function topSelfTime(profile: CpuProfile, count: number): SelfTimeRow[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, { name: string; where: string; us: number }>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i] as number);
    const delta = profile.timeDeltas[i] ?? 0;
    if (node === undefined) continue;
    const frame = node.callFrame;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)') continue;
    const where = frame.url === '' ? '' : `${frame.url.replace(/^.*\/(build|node_modules)\//, '$1/').replace(/^node:/, 'node:')}:${frame.lineNumber + 1}`;
    const key = `${name} ${where}`;
    const row = selfUs.get(key) ?? { name, where, us: 0 };
    row.us += delta;
    selfUs.set(key, row);
    total += delta;
  }
  return [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, count)
    .map((row) => ({ name: row.name, where: row.where, selfMs: Math.round(row.us / 1000), percent: Math.round((row.us / total) * 1000) / 10 }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: node build/bench/profile-summary.js FILE.cpuprofile [N]\n');
    process.exitCode = 2;
  } else {
    const rows = topSelfTime(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(process.argv[3] ?? 10));
    process.stdout.write('| # | function | self ms | % of busy | where |\n| --- | --- | --- | --- | --- |\n');
    rows.forEach((row, i) => process.stdout.write(`| ${i + 1} | \`${row.name}\` | ${row.selfMs} | ${row.percent} | ${row.where} |\n`));
  }
}
