#!/usr/bin/env node
// The `moat` command: one file per subcommand; this file only wires them to commander.
import { Command } from 'commander';
import { MOAT_VERSION } from '../version.js';
import { registerBrokerCommand } from './broker.js';

const program = new Command();
program.name('moat').description('Secure-by-default MQTT broker, client and toolkit').version(MOAT_VERSION);
registerBrokerCommand(program);
(await import('./bench.js')).registerBenchCommand(program);
await program.parseAsync(process.argv);
