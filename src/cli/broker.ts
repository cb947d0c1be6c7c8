// `moat broker [-c FILE]`: load the config (or the local-only defaults), write the pid_file, start
// the listeners, log one structured "listening" line per listener, re-read TLS certificates and the
// password and ACL files on SIGHUP (reload.ts), stop cleanly on SIGINT/SIGTERM.
import type { Command } from 'commander';
import { Broker } from '../broker/broker.js';
import { MoatError } from '../codec/errors.js';
import { ConfigError } from '../config/errors.js';
import { defaultConfig, loadConfig, parseConfig, resolveSecurity, type ListenerSecurity } from '../config/index.js';
import type { BrokerConfig, ListenerConfig, ListenerTlsConfig } from '../config/types.js';
import { AccessControl } from '../auth/access-control.js';
import { openLog } from './log.js';
import { removePidFile, writePidFile } from './pid-file.js';
import type { CertificateIdentity } from '../auth/certificate-identity.js';
import { logPasswordWarnings, reloadOnSighup, type TlsListening } from './reload.js';
import { SysPublisher } from '../observe/sys.js';
import { MOAT_VERSION } from '../version.js';
import type { Logger } from '../broker/logger.js';
import type { ListenerOptions, Listening } from '../transport/listen.js';
import { listenTcp } from '../transport/tcp.js';
import { listenTls } from '../transport/tls.js';
import { listenWebSocket } from '../transport/ws.js';

/** How long a stopping broker waits for its log destinations to take the lines they still hold. */
const LOG_DRAIN_MS = 2000;

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

/** Where use_identity_as_username / use_subject_as_username take the user name from on this listener. */
function certificateIdentity(tls: ListenerTlsConfig | undefined): CertificateIdentity | undefined {
  if (tls?.useIdentityAsUsername === true) return tls.pskHint !== undefined ? 'psk-identity' : 'common-name';
  return tls?.useSubjectAsUsername === true ? 'subject' : undefined;
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
  const log = await openLog(config.log, options.verbose === true);
  const code = await start(config, log.logger);
  // A destination still holding lines (a pipe nobody reads) keeps the event loop, and so the
  // process, alive for ever: after a short wait, leave without them.
  if (!(await log.drain(LOG_DRAIN_MS))) process.exit(code);
  return code;
}

/** Checks what the listeners need, writes the pid_file, then serves until SIGINT/SIGTERM; the exit code. */
async function start(config: BrokerConfig, logger: Logger): Promise<number> {
  for (const warning of config.warnings) logger.warn({ event: 'config_warning', file: warning.file, line: warning.line }, warning.message);

  const security = resolveSecurity(config);
  const refusals = security.map((s) => s.refusal).filter((r): r is string => r !== undefined);
  if (refusals.length > 0) {
    for (const refusal of refusals) process.stderr.write(`moat broker: refusing to start: ${refusal}\n`);
    return 2;
  }
  let accessControls: Map<ListenerConfig, AccessControl>;
  try {
    accessControls = await AccessControl.forListeners(config.listeners);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const { pidFile } = config;
  if (pidFile !== undefined) {
    const problem = await writePidFile(pidFile);
    if (problem !== undefined) {
      process.stderr.write(`moat broker: ${problem}\n`);
      return 1;
    }
  }
  try {
    return await serve(config, logger, security, accessControls);
  } finally {
    if (pidFile !== undefined) await removePidFile(pidFile);
  }
}

async function serve(
  config: BrokerConfig,
  logger: Logger,
  security: readonly ListenerSecurity[],
  accessControls: Map<ListenerConfig, AccessControl>,
): Promise<number> {
  const broker = new Broker({
    maxKeepalive: config.maxKeepalive,
    maxTopicLevels: config.maxTopicLevels,
    publisherFlowControl: config.publisherFlowControl,
    maxPacketSize: config.maxPacketSize,
    messageSizeLimit: config.messageSizeLimit,
    retainAvailable: config.retainAvailable,
    persistentClientExpiration: config.persistentClientExpiration,
    // 0 means no limit in mosquitto.conf; the protocol's own ceiling is 65535.
    maxInflightMessages: config.maxInflightMessages === 0 ? 65535 : config.maxInflightMessages,
    // 0 means no limit in mosquitto.conf, not "queue nothing".
    maxQueuedMessages: config.maxQueuedMessages === 0 ? Number.MAX_SAFE_INTEGER : config.maxQueuedMessages,
    queueQos0Messages: config.queueQos0Messages,
    clientIdPrefix: config.clientidPrefixes,
    maxQueuedBytes: config.maxQueuedBytes,
    maxInflightBytes: config.maxInflightBytes,
    upgradeOutgoingQos: config.upgradeOutgoingQos,
    checkRetainSource: config.checkRetainSource,
    badPasswordAsNotAuthorized: config.badPasswordAnswer === 'mosquitto',
    grantDeniedSubscriptions: config.aclDeniedSubscribe === 'mosquitto',
    connectionMessages: config.log.connectionMessages,
    allowZeroLengthClientId: config.allowZeroLengthClientId,
    autoIdPrefix: config.autoIdPrefix,
    connectTimeoutMs: config.connectTimeout * 1000,
    allowAnonymous: false,
    authFailureLimit: config.authFailureLimit,
    authBanMs: config.authBanTime * 1000,
    logger,
  });
  const securityWarnings = security.flatMap((s) => s.warnings);
  const sys = new SysPublisher(broker, {
    intervalSeconds: config.sysInterval,
    version: MOAT_VERSION,
    connectionLimit: config.listeners[0]?.maxConnections ?? -1,
    securityWarnings,
  });
  sys.start();
  const listeners: Listening[] = [];
  const tlsListeners: TlsListening[] = [];
  for (const { listener, anonymousAllowed, warnings } of security) {
    for (const warning of warnings) logger.warn({ event: 'insecure_listener', host: listener.host, port: listener.port }, warning);
    try {
      const tls: ListenerTlsConfig | undefined = listener.tls;
      // mqtts and wss: tls_handshake_timeout bounds the handshake; connect_timeout starts after it.
      const handshake = tls === undefined ? {} : { handshakeTimeoutMs: tls.handshakeTimeout * 1000 };
      const listen =
        listener.protocol === 'websockets'
          ? (b: Broker, o: ListenerOptions) => listenWebSocket(b, { ...o, tls, ...handshake, maxHeaderSize: config.websocketsHeadersSize })
          : tls === undefined
            ? listenTcp
            : (b: Broker, o: ListenerOptions) => listenTls(b, { ...o, tls, ...handshake });
      const listening = await listen(broker, {
        host: listener.host,
        port: listener.port,
        socketPath: listener.socketPath,
        socketDomain: listener.socketDomain,
        bindInterface: listener.bindInterface,
        noDelay: config.setTcpNodelay,
        maxConnections: listener.maxConnections,
        policy: {
          allowAnonymous: anonymousAllowed,
          allowZeroLengthClientId: listener.allowZeroLengthClientId,
          autoIdPrefix: listener.autoIdPrefix,
          maxTopicAlias: listener.maxTopicAlias,
          maxQos: listener.maxQos,
          mountPoint: listener.mountPoint,
          accessControl: accessControls.get(listener),
          certificateIdentity: certificateIdentity(tls),
          useUsernameAsClientId: listener.useUsernameAsClientid,
        },
      });
      listeners.push(listening);
      const protocol = listener.protocol === 'websockets' ? (tls === undefined ? 'websockets' : 'wss') : tls === undefined ? 'mqtt' : 'mqtts';
      if (listening.reloadTls !== undefined) tlsListeners.push({ listening, protocol, listener });
      const at = listener.socketPath ?? `${listening.host}:${listening.port}`;
      logger.info({ event: 'listening', protocol, host: listening.host, port: listening.port }, `listening on ${at} (${protocol})`);
    } catch (error) {
      const at = listener.socketPath ?? `${listener.host ?? '*'}:${listener.port}`;
      logger.error(
        { event: 'listen_failed', host: listener.host, port: listener.port, path: listener.socketPath, err: (error as Error).message },
        `cannot listen on ${at} (${listener.source.file}:${listener.source.line})`,
      );
      await Promise.all(listeners.map((l) => l.close()));
      return 1;
    }
  }

  const controls = [...new Set(accessControls.values())];
  for (const control of controls) logPasswordWarnings(control, logger);
  const reload = (): void => void reloadOnSighup({ broker, logger, tlsListeners, accessControls: controls });
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
  sys.stop();
  broker.close();
  await Promise.all(listeners.map((l) => l.close()));
  return 0;
}
