// `moat broker [-c FILE]`: load the config (or the local-only defaults), start the listeners,
// log one structured "listening" line per listener, stop cleanly on SIGINT/SIGTERM.
import type { Command } from 'commander';
import { Broker } from '../broker/broker.js';
import { MoatError } from '../codec/errors.js';
import { ConfigError } from '../config/errors.js';
import { defaultConfig, loadConfig, parseConfig, resolveSecurity } from '../config/index.js';
import type { BrokerConfig, ListenerTlsConfig } from '../config/types.js';
import { createLogger } from './log.js';
import { SysPublisher } from '../observe/sys.js';
import { MOAT_VERSION } from '../version.js';
import type { ListenerOptions, Listening } from '../transport/listen.js';
import { listenTcp } from '../transport/tcp.js';
import { listenTls } from '../transport/tls.js';

interface BrokerCommandOptions {
  config?: string;
  port?: string;
  verbose?: boolean;
}

export function registerBrokerCommand(program: Command): void {
  program
    .command('broker')
    .description('run the MQTT broker (no config: 127.0.0.1:1883 only, anonymous allowed)')
    .option('-c, --config <file>', 'mosquitto.conf-style configuration file')
    .option('-p, --port <port>', 'listen on 127.0.0.1:PORT instead of 1883 (no config file)')
    .option('-v, --verbose', 'log debug messages')
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
          ? parseConfig(`listener ${options.port} 127.0.0.1\nallow_anonymous true\n`, '<command line -p>')
          : defaultConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const logger = createLogger(config.log, options.verbose === true);
  for (const warning of config.warnings) logger.warn({ event: 'config_warning', file: warning.file, line: warning.line }, warning.message);

  const broker = new Broker({
    maxKeepalive: config.maxKeepalive,
    maxPacketSize: config.maxPacketSize,
    messageSizeLimit: config.messageSizeLimit,
    retainAvailable: config.retainAvailable,
    persistentClientExpiration: config.persistentClientExpiration,
    // 0 means no limit in mosquitto.conf; the protocol's own ceiling is 65535.
    maxInflightMessages: config.maxInflightMessages === 0 ? 65535 : config.maxInflightMessages,
    maxQueuedMessages: config.maxQueuedMessages,
    maxQueuedBytes: config.maxQueuedBytes,
    maxInflightBytes: config.maxInflightBytes,
    upgradeOutgoingQos: config.upgradeOutgoingQos,
    connectionMessages: config.log.connectionMessages,
    allowZeroLengthClientId: config.allowZeroLengthClientId,
    autoIdPrefix: config.autoIdPrefix,
    connectTimeoutMs: config.connectTimeout * 1000,
    allowAnonymous: false,
    logger,
  });
  const sys = new SysPublisher(broker, { intervalSeconds: config.sysInterval, version: MOAT_VERSION, connectionLimit: config.listeners[0]?.maxConnections ?? -1 });
  sys.start();
  const security = resolveSecurity(config);
  const listeners: Listening[] = [];
  for (const { listener, anonymousAllowed, warning } of security) {
    if (warning !== undefined) logger.warn({ event: 'insecure_listener', host: listener.host, port: listener.port }, warning);
    try {
      const listen = listener.tls === undefined ? listenTcp : (b: Broker, o: ListenerOptions) => listenTls(b, { ...o, tls: listener.tls as ListenerTlsConfig });
      const listening = await listen(broker, {
        host: listener.host,
        port: listener.port,
        noDelay: config.setTcpNodelay,
        maxConnections: listener.maxConnections,
        policy: {
          allowAnonymous: anonymousAllowed,
          allowZeroLengthClientId: listener.allowZeroLengthClientId,
          autoIdPrefix: listener.autoIdPrefix,
          maxTopicAlias: listener.maxTopicAlias,
        },
      });
      listeners.push(listening);
      const protocol = listener.tls === undefined ? listener.protocol : 'mqtts';
      logger.info({ event: 'listening', protocol, host: listening.host, port: listening.port }, `listening on ${listening.host}:${listening.port} (${protocol})`);
    } catch (error) {
      logger.error(
        { event: 'listen_failed', host: listener.host, port: listener.port, err: (error as Error).message },
        `cannot listen on ${listener.host ?? '*'}:${listener.port} (${listener.source.file}:${listener.source.line})`,
      );
      await Promise.all(listeners.map((l) => l.close()));
      return 1;
    }
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ event: 'stopping', signal }, 'stopping');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  sys.stop();
  broker.close();
  await Promise.all(listeners.map((l) => l.close()));
  logger.flush();
  return 0;
}
