#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size=2: a young generation capped at 2 MB keeps idle-connection RSS low after a
// connection storm and costs no measurable throughput (docs/PERFORMANCE.md). Launchers that run
// `node build/src/cli/index.js` pass the same flag (NODE_FLAGS in src/cli/node-flags.ts).
// The `moat` command: one file per subcommand; this file only wires them to commander.
import { Command } from 'commander';
import { MOAT_VERSION } from '../version.js';
import { registerBrokerCommand } from './broker.js';

const program = new Command();
program.name('moat').description('Secure-by-default MQTT broker, client and toolkit').version(MOAT_VERSION);
registerBrokerCommand(program);
(await import('./bench.js')).registerBenchCommand(program);
(await import('./pub.js')).registerPubCommand(program);
(await import('./sub.js')).registerSubCommand(program);
(await import('./certs.js')).registerCertsCommand(program);
(await import('./audit.js')).registerAuditCommand(program);
(await import('./passwd.js')).registerPasswdCommand(program);
await program.parseAsync(process.argv);
