// SIGHUP for `moat broker`: re-read what Mosquitto re-reads without a restart — every TLS
// listener's certfile/keyfile/cafile/crlfile (Let's Encrypt renewals, revocations) and psk_file,
// and the password and ACL files.
// Connected clients stay, except those whose password-file entry is gone or changed. A file that
// cannot be used is named in the log and the old certificate or rules stay in force.
import type { AccessControl } from '../auth/access-control.js';
import type { Broker } from '../broker/broker.js';
import type { Logger } from '../broker/logger.js';
import { ConfigError } from '../config/errors.js';
import type { ListenerConfig } from '../config/types.js';
import type { Listening } from '../transport/listen.js';
import { TlsFileError } from '../transport/tls.js';

export interface TlsListening {
  readonly listening: Listening;
  readonly protocol: string;
  readonly listener: ListenerConfig;
}

export interface ReloadTargets {
  readonly broker: Broker;
  readonly logger: Logger;
  readonly tlsListeners: readonly TlsListening[];
  /** One entry per distinct (password_file, acl_file) pair. */
  readonly accessControls: readonly AccessControl[];
}

/** Everything SIGHUP re-reads; resolves when every file has been tried. Never throws. */
export async function reloadOnSighup(targets: ReloadTargets): Promise<void> {
  const { logger } = targets;
  if (targets.tlsListeners.length === 0 && targets.accessControls.length === 0) {
    logger.info({ event: 'reload_skipped', signal: 'SIGHUP' }, 'SIGHUP: no TLS listener, password file or ACL file to reload');
    return;
  }
  reloadTls(targets.tlsListeners, logger);
  await Promise.all(targets.accessControls.map((control) => reloadAccess(control, targets.broker, logger)));
}

function reloadTls(tlsListeners: readonly TlsListening[], logger: Logger): void {
  for (const { listening, protocol, listener } of tlsListeners) {
    const where = { protocol, host: listening.host, port: listening.port };
    try {
      listening.reloadTls?.();
      logger.info(
        {
          event: 'tls_reloaded',
          ...where,
          certfile: listener.tls?.certfile,
          keyfile: listener.tls?.keyfile,
          cafile: listener.tls?.cafile,
          crlfile: listener.tls?.crlfile,
          pskFile: listener.tls?.pskFile,
        },
        `reloaded the TLS certificate of ${listening.host}:${listening.port} (${protocol})`,
      );
    } catch (error) {
      const file = error instanceof TlsFileError ? error.file : undefined;
      logger.error(
        { event: 'tls_reload_failed', ...where, file, err: (error as Error).message },
        `cannot reload the TLS certificate of ${listening.host}:${listening.port} (${protocol}); keeping the old one`,
      );
    }
  }
}

async function reloadAccess(control: AccessControl, broker: Broker, logger: Logger): Promise<void> {
  const files = { passwordFile: control.passwordFile, aclFile: control.aclFile };
  try {
    await control.reload();
  } catch (error) {
    // A ConfigError names file:line and the fix; anything else is still no reason to stop serving.
    const err = error instanceof ConfigError ? error.message : String(error);
    logger.error({ event: 'auth_reload_failed', ...files, err }, 'cannot reload the password/ACL files; keeping the rules in force');
    return;
  }
  logPasswordWarnings(control, logger);
  const revoked = broker.revokeStaleLogins(control);
  const dropped = broker.dropUnreadable(control);
  logger.info(
    { event: 'auth_reloaded', ...files, users: control.passwords?.size, revoked, dropped },
    `reloaded ${[control.passwordFile, control.aclFile].filter((f) => f !== undefined).join(' and ')}`,
  );
}

/** Findings that do not stop a password file from loading (a user listed twice). */
export function logPasswordWarnings(control: AccessControl, logger: Logger): void {
  for (const warning of control.passwords?.warnings ?? []) logger.warn({ event: 'password_file_warning', file: control.passwordFile }, warning);
}
