// The composition root: the one place a parsed BrokerConfig becomes a running broker — security
// checks, password and ACL files, the engine's options, $SYS, every listener — and the one place that
// stops it again. `moat broker` (cli/broker.ts) adds only the process around it: flags, the log,
// the pid file, signals and exit codes.
import { AccessControl } from '../auth/access-control.js';
import { Broker } from '../broker/broker.js';
import type { Logger } from '../broker/logger.js';
import { resolveSecurity } from '../config/security.js';
import type { BrokerConfig } from '../config/types.js';
import { SysPublisher } from '../observe/sys.js';
import { tallyOf } from '../observe/tally.js';
import { MOAT_VERSION } from '../version.js';
import type { AdminServer } from '../admin/server.js';
import { adminReload, adminToken, connectionLimitOf, openAdmin } from './admin.js';
import { brokerOptionsFromConfig } from './broker-options.js';
import { StartRefusedError } from './errors.js';
import { openListeners, type ServerListener } from './listeners.js';
import { openCluster } from './cluster.js';
import { openPersistence } from './persistence.js';
import { reportPasswordWarnings, reloadServer, type ReloadResult } from './reload.js';

export interface StartServerOptions {
  readonly logger: Logger;
  /**
   * Runs once the config has passed every check (security, password and ACL files) and before the
   * broker is made or anything listens; `moat broker` writes its pid_file here. When it rejects,
   * startServer rejects with the same error and has opened nothing.
   */
  readonly beforeListen?: () => Promise<void>;
}

export interface Server {
  readonly broker: Broker;
  /** Every configured listener, open, in config order. */
  readonly listeners: readonly ServerListener[];
  /** The admin HTTP listener (admin_listener); undefined when none is configured. */
  readonly admin: AdminServer | undefined;
  /** Re-reads TLS certificates, CRLs, PSK files, password and ACL files (what SIGHUP does). Never rejects. */
  reload(): Promise<ReloadResult>;
  /** Stops $SYS, the broker (v5 clients get DISCONNECT 0x8B) and every listener; calling it again returns the same promise. */
  close(): Promise<void>;
}

/**
 * Starts `config`. Logs its warnings ("config_warning"), then rejects, having opened nothing, with a
 * StartRefusedError when resolveSecurity refuses a listener, or with the ConfigError of an unusable
 * password or ACL file. A listener that cannot bind is logged ("listen_failed"); everything opened
 * is then closed and startServer rejects with a ListenError naming the listener and its file:line.
 */
export async function startServer(config: BrokerConfig, options: StartServerOptions): Promise<Server> {
  const { logger } = options;
  for (const warning of config.warnings) logger.warn({ event: 'config_warning', file: warning.file, line: warning.line }, warning.message);

  const security = resolveSecurity(config);
  const refusals = security.map((s) => s.refusal).filter((r): r is string => r !== undefined);
  if (refusals.length > 0) throw new StartRefusedError(refusals);
  const accessControls = await AccessControl.forListeners(config.listeners);
  const token = config.admin === undefined ? undefined : await adminToken(config.admin);
  await options.beforeListen?.();

  // With cluster_redis the Redis store replaces the persistence file and the Redis bus joins the others.
  const cluster = await openCluster(config, logger);
  const store = cluster === undefined ? openPersistence(config) : undefined;
  const broker = new Broker({
    ...brokerOptionsFromConfig(config, logger),
    ...(cluster !== undefined ? { store: cluster.store, bus: cluster.bus } : store !== undefined ? { store } : {}),
  });
  if (cluster !== undefined) {
    // No restoreSessions: every node would queue for every offline session. A session is loaded
    // from Redis by the node its client connects to (Broker.loadSession), or adopted by the node
    // told that the node holding it died (Broker nodeLost).
    const { bus } = cluster;
    logger.info(
      { event: 'cluster_joined', node: bus.nodeId, redis: cluster.store.display, prefix: config.clusterPrefix, nodes: bus.liveNodes, retained: cluster.store.retainedCount },
      `node ${bus.nodeId} joined the cluster on ${cluster.store.display} (prefix ${config.clusterPrefix}): ${bus.liveNodes} ${bus.liveNodes === 1 ? 'node' : 'nodes'} in the cluster, this one included; ${cluster.store.retainedCount} retained messages`,
    );
  } else if (store === undefined) {
    logger.info({ event: 'persistence_off' }, 'persistence false: sessions, queued and retained messages are kept in memory only and lost when the broker stops');
  } else {
    // Before anything listens: offline sessions are subscribed again before the first PUBLISH can arrive.
    const { restored, expired } = await broker.restoreSessions();
    logger.info(
      { event: 'store_opened', file: store.file, sync: store.sync, sessions: restored, expiredSessions: expired, retained: store.retainedCount },
      `persistence in ${store.file} (persistence_sync ${store.sync}): ${restored} sessions and ${store.retainedCount} retained messages restored`,
    );
  }
  // Counting starts before anything listens, so $SYS and metrics see every refusal.
  const tally = tallyOf(broker);
  const sys = new SysPublisher(broker, {
    intervalSeconds: config.sysInterval,
    version: MOAT_VERSION,
    connectionLimit: connectionLimitOf(config),
    capacityAlertThreshold: config.capacityAlertThreshold,
    securityWarnings: security.flatMap((s) => s.warnings),
    ...(cluster === undefined ? {} : { cluster: cluster.bus }),
  });
  sys.start();
  let listeners: ServerListener[] = [];
  let admin: AdminServer | undefined;
  try {
    listeners = await openListeners(broker, config, security, accessControls);
    // After the MQTT listeners: their "listening" lines come first, and /readyz has them to check.
    if (config.admin !== undefined) admin = await openAdmin(config, config.admin, token, broker, tally, sys, listeners, cluster?.readiness);
  } catch (error) {
    sys.stop();
    tally.stop();
    broker.close();
    await Promise.all(listeners.map((l) => l.listening.close()));
    await store?.close();
    await cluster?.close();
    throw error;
  }

  const controls = [...new Set(accessControls.values())];
  for (const control of controls) reportPasswordWarnings(control, broker);

  let closed: Promise<void> | undefined;
  return {
    broker,
    listeners,
    admin,
    reload: () => reloadServer({ broker, listeners, accessControls: controls, admin: admin === undefined || config.admin === undefined ? undefined : adminReload(config.admin, admin, broker) }),
    close: () =>
      (closed ??= (async () => {
        sys.stop();
        broker.close();
        tally.stop();
        await Promise.all([...listeners.map((l) => l.listening.close()), admin?.close()]);
        // Last: the sessions the closing connections saved are committed with it.
        await store?.close();
        await cluster?.close();
      })()),
  };
}

