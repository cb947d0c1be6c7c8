#!/usr/bin/env node
// The `moat` command: one file per subcommand; this file only wires them to commander.
import { Command } from 'commander';
import { registerBrokerCommand } from './broker.js';

const program = new Command();
program.name('moat').description('Secure-by-default MQTT broker, client and toolkit').version('0.1.0');
registerBrokerCommand(program);
await program.parseAsync(process.argv);
