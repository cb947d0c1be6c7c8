// `moat broker [-c FILE] [--cluster URL]`: the process around the server. Load the config (or the local-only
// defaults), open the log, write the pid_file, start the server (server/start-server.ts: security
// checks, listeners and their "listening" lines, $SYS), re-read TLS certificates and the password and
// ACL files on SIGHUP (server.reload()), stop cleanly on SIGINT/SIGTERM, exit codes, drain the log.
import type { Command } from 'commander';
import type { Logger } from '../broker/logger.js';
import { parseRedisUrl } from '../cluster/redis-url.js';
import { MoatError } from '../codec/errors.js';
import { ConfigError } from '../config/errors.js';
import { defaultConfig, loadConfig, parseConfig } from '../config/index.js';
import type { BrokerConfig } from '../config/types.js';
import { ListenError, StartRefusedError } from '../server/errors.js';
import { startServer, type Server } from '../server/start-server.js';
import type { LogTopic } from '../observe/log-topic.js';
import { openLog } from './log.js';
import { removePidFile, writePidFile } from './pid-file.js';

/** How long a stopping broker waits for its log destinations to take the lines they still hold. */
const LOG_DRAIN_MS = 2000;

interface BrokerCommandOptions {
  config?: string;
  port?: string;
  verbose?: boolean;
  cluster?: string;
}

export function registerBrokerCommand(program: Command): void {
  program
    .command('broker')
    .description('run the MQTT broker (no config: 127.0.0.1:1883 only, anonymous allowed)')
    .option('-c, --config <file>', 'mosquitto.conf-style configuration file')
    .option('-p, --port <port>', 'listen on 127.0.0.1:PORT instead of 1883 (no config file)')
    .option('-v, --verbose', 'log debug messages')
    .option('--cluster <url>', 'join the cluster of the brokers sharing this Redis (sets cluster_redis), e.g. redis://127.0.0.1:6379')
    .action(async (options: BrokerCommandOptions) => {
      try {
        process.exitCode = await runBroker(options);
      } catch (error) {
        // Bad settings are the user's to fix: one sentence, no stack trace.
        if (!(error instanceof MoatError)) throw error;
        process.stderr.write(`moat broker: ${error.message}\n`);
        process.exitCode = 2;
      }
    });
}

async function runBroker(options: BrokerCommandOptions): Promise<number> {
  let config: BrokerConfig;
  try {
    config =
      options.config !== undefined
        ? await loadConfig(options.config)
        : options.port !== undefined
          ? parseConfig(`listener ${options.port} 127.0.0.1\nallow_anonymous true\npersistence_file moat-${options.port}.db\n`, '<command line -p>')
          : defaultConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (options.cluster !== undefined) {
    // Read now, so a bad URL is refused in words (MOAT_ERR_REDIS_URL, exit 2) before anything opens.
    parseRedisUrl(options.cluster);
    config = { ...config, clusterRedis: options.cluster };
  }
  const log = await openLog(config.log, options.verbose === true);
  const code = await serve(config, log.logger, log.topic);
  // A destination still holding lines (a pipe nobody reads) keeps the event loop, and so the
  // process, alive for ever: after a short wait, leave without them.
  if (!(await log.drain(LOG_DRAIN_MS))) process.exit(code);
  return code;
}

/**
 * Starts the server (startServer: checks, listeners, $SYS), with the pid_file written once the checks
 * pass and before anything listens; serves until SIGINT/SIGTERM; the exit code.
 */
async function serve(config: BrokerConfig, logger: Logger, logTopic: LogTopic | undefined): Promise<number> {
  const { pidFile } = config;
  let pidProblem: string | undefined;
  let pidWritten = false;
  const writePid = async (): Promise<void> => {
    if (pidFile === undefined) return;
    pidProblem = await writePidFile(pidFile);
    if (pidProblem !== undefined) throw new MoatError('MOAT_ERR_PID_FILE', pidProblem);
    pidWritten = true;
  };
  try {
    let server: Server;
    try {
      server = await startServer(config, { logger, beforeListen: writePid });
    } catch (error) {
      if (error instanceof StartRefusedError) {
        for (const refusal of error.refusals) process.stderr.write(`moat broker: refusing to start: ${refusal}\n`);
        return 2;
      }
      // A password or ACL file that cannot be used: file:line and the fix, as for the config itself.
      if (error instanceof ConfigError) {
        process.stderr.write(`${error.message}\n`);
        return 2;
      }
      if (pidProblem !== undefined) {
        process.stderr.write(`moat broker: ${pidProblem}\n`);
        return 1;
      }
      // startServer has logged listen_failed, naming the listener (or the admin listener) and its file:line.
      if (error instanceof ListenError || (error instanceof MoatError && error.code === 'MOAT_ERR_LISTEN')) return 1;
      throw error;
    }
    logTopic?.attach(server.broker);
    const reload = (): void => void server.reload();
    process.on('SIGHUP', reload);
    await new Promise<void>((resolve) => {
      const stop = (signal: string): void => {
        logger.info({ event: 'stopping', signal }, 'stopping');
        resolve();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    process.off('SIGHUP', reload);
    logTopic?.detach();
    await server.close();
    return 0;
  } finally {
    if (pidFile !== undefined && pidWritten) await removePidFile(pidFile);
  }
}
