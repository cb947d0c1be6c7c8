// Server.reload() (SIGHUP for `moat broker`): re-read what Mosquitto re-reads without a restart — every TLS
// listener's certfile/keyfile/cafile/crlfile (Let's Encrypt renewals, revocations) and psk_file,
// and the password and ACL files.
// Connected clients stay, except those whose password-file entry is gone or changed. A file that
// cannot be used is named in the log and the old certificate or rules stay in force.
import type { AccessControl } from '../auth/access-control.js';
import type { Broker } from '../broker/broker.js';
import type { Logger } from '../broker/logger.js';
import { ConfigError } from '../config/errors.js';
import { TlsFileError } from '../transport/tls.js';
import type { ServerListener } from './listeners.js';

export interface ReloadTargets {
  readonly broker: Broker;
  readonly logger: Logger;
  /** The open listeners; those with TLS (mqtts, wss) get their certificates re-read. */
  readonly listeners: readonly ServerListener[];
  /** One entry per distinct (password_file, acl_file) pair. */
  readonly accessControls: readonly AccessControl[];
}

/** What one reload did; a failed file is named in the log and its old contents stay in force. */
export interface ReloadResult {
  /** TLS listeners whose certificates (and CRL, PSK file) were re-read. */
  readonly tlsReloaded: number;
  /** TLS listeners that kept their old certificates because a file was unusable. */
  readonly tlsFailed: number;
  /** Password/ACL file pairs re-read. */
  readonly accessReloaded: number;
  /** Password/ACL file pairs that kept their old rules because a file was unusable. */
  readonly accessFailed: number;
}

/** Everything SIGHUP re-reads; resolves when every file has been tried. Never throws. */
export async function reloadServer(targets: ReloadTargets): Promise<ReloadResult> {
  const { logger } = targets;
  const tlsListeners = targets.listeners.filter((l) => l.listening.reloadTls !== undefined);
  if (tlsListeners.length === 0 && targets.accessControls.length === 0) {
    logger.info({ event: 'reload_skipped', signal: 'SIGHUP' }, 'SIGHUP: no TLS listener, password file or ACL file to reload');
    return { tlsReloaded: 0, tlsFailed: 0, accessReloaded: 0, accessFailed: 0 };
  }
  const tlsReloaded = reloadTls(tlsListeners, logger);
  const access = await Promise.all(targets.accessControls.map((control) => reloadAccess(control, targets.broker, logger)));
  const accessReloaded = access.filter((ok) => ok).length;
  return { tlsReloaded, tlsFailed: tlsListeners.length - tlsReloaded, accessReloaded, accessFailed: access.length - accessReloaded };
}

/** The number of listeners reloaded. */
function reloadTls(tlsListeners: readonly ServerListener[], logger: Logger): number {
  let reloaded = 0;
  for (const { listening, protocol, listener } of tlsListeners) {
    const where = { protocol, host: listening.host, port: listening.port };
    try {
      listening.reloadTls?.();
      reloaded += 1;
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
  return reloaded;
}

/** Whether the files were reloaded. */
async function reloadAccess(control: AccessControl, broker: Broker, logger: Logger): Promise<boolean> {
  const files = { passwordFile: control.passwordFile, aclFile: control.aclFile };
  try {
    await control.reload();
  } catch (error) {
    // A ConfigError names file:line and the fix; anything else is still no reason to stop serving.
    const err = error instanceof ConfigError ? error.message : String(error);
    logger.error({ event: 'auth_reload_failed', ...files, err }, 'cannot reload the password/ACL files; keeping the rules in force');
    return false;
  }
  logPasswordWarnings(control, logger);
  const revoked = broker.revokeStaleLogins(control);
  const dropped = broker.dropUnreadable(control);
  logger.info(
    { event: 'auth_reloaded', ...files, users: control.passwords?.size, revoked, dropped },
    `reloaded ${[control.passwordFile, control.aclFile].filter((f) => f !== undefined).join(' and ')}`,
  );
  return true;
}

/** Findings that do not stop a password file from loading (a user listed twice). */
export function logPasswordWarnings(control: AccessControl, logger: Logger): void {
  for (const warning of control.passwords?.warnings ?? []) logger.warn({ event: 'password_file_warning', file: control.passwordFile }, warning);
}
