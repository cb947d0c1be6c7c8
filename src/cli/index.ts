#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size=2: a young generation capped at 2 MB keeps idle-connection RSS low after a
// connection storm and costs no measurable throughput (docs/PERFORMANCE.md). Launchers that run
// `node build/src/cli/index.js` pass the same flag (NODE_FLAGS in src/cli/node-flags.ts).
// The `moat` command: one file per subcommand; this file only wires them to commander.
// Importing this file (a test, a tool walking the package) defines main() and runs nothing: the CLI starts only
// when this file is the script node was given.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { MOAT_VERSION } from '../version.js';
import { registerBrokerCommand } from './broker.js';

/** Builds the `moat` command with every subcommand and runs it on `argv` (node's argv: [node, script, ...args]). */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  const program = new Command();
  program.name('moat').description('Secure-by-default MQTT broker, client and toolkit').version(MOAT_VERSION);
  registerBrokerCommand(program);
  (await import('./bench.js')).registerBenchCommand(program);
  (await import('./pub.js')).registerPubCommand(program);
  (await import('./sub.js')).registerSubCommand(program);
  (await import('./certs.js')).registerCertsCommand(program);
  (await import('./audit.js')).registerAuditCommand(program);
  (await import('./passwd.js')).registerPasswdCommand(program);
  (await import('./top.js')).registerTopCommand(program);
  (await import('./capacity.js')).registerCapacityCommand(program);
  (await import('./debug.js')).registerDebugCommand(program);
  await program.parseAsync([...argv]);
}

/**
 * True when node was started with this file as its script: `node build/src/cli/index.js`, the `moat` bin (a
 * symlink to it), or the forms node's own lookup accepts without the extension (`.../cli/index`, `.../cli`).
 */
function startedAsProgram(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  let self: string;
  try {
    self = realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
  for (const candidate of [script, `${script}.js`, `${script}.ts`, `${script}/index.js`, `${script}/index.ts`]) {
    try {
      if (realpathSync(candidate) === self) return true;
    } catch {
      // not this form; try the next
    }
  }
  return false;
}

if (startedAsProgram()) await main();
