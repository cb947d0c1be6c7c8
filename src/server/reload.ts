// Server.reload() (SIGHUP for `moat broker`): re-read what Mosquitto re-reads without a restart — every TLS
// listener's certfile/keyfile/cafile/crlfile (Let's Encrypt renewals, revocations) and psk_file,
// and the password and ACL files; and the admin listener's certificate and admin_token_file.
// Connected clients stay, except those whose password-file entry is gone or changed. A file that
// cannot be used is named in the log and the old certificate or rules stay in force.
import type { AccessControl } from '../auth/access-control.js';
import type { Broker } from '../broker/broker.js';
import { emit } from '../broker/events.js';
import { ConfigError } from '../config/errors.js';
import { TlsFileError } from '../transport/tls.js';
import type { ServerListener } from './listeners.js';

export interface ReloadTargets {
  readonly broker: Broker;
  /** The open listeners; those with TLS (mqtts, wss) get their certificates re-read. */
  readonly listeners: readonly ServerListener[];
  /** One entry per distinct (password_file, acl_file) pair. */
  readonly accessControls: readonly AccessControl[];
  /** Re-reads the admin listener's certificate and token file (server/admin.ts); undefined when it has neither. */
  readonly admin?: (() => Promise<void>) | undefined;
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
  const tlsListeners = targets.listeners.filter((l) => l.listening.reloadTls !== undefined);
  if (tlsListeners.length === 0 && targets.accessControls.length === 0 && targets.admin === undefined) {
    emit(targets.broker, 'reloadSkipped', { signal: 'SIGHUP' });
    return { tlsReloaded: 0, tlsFailed: 0, accessReloaded: 0, accessFailed: 0 };
  }
  const tlsReloaded = reloadTls(tlsListeners, targets.broker);
  const access = await Promise.all(targets.accessControls.map((control) => reloadAccess(control, targets.broker)));
  await targets.admin?.();
  const accessReloaded = access.filter((ok) => ok).length;
  return { tlsReloaded, tlsFailed: tlsListeners.length - tlsReloaded, accessReloaded, accessFailed: access.length - accessReloaded };
}

/** The number of listeners reloaded. */
function reloadTls(tlsListeners: readonly ServerListener[], broker: Broker): number {
  let reloaded = 0;
  for (const { listening, protocol, listener } of tlsListeners) {
    const where = { protocol, host: listening.host, port: listening.port };
    try {
      listening.reloadTls?.();
      reloaded += 1;
      const tls = listener.tls;
      emit(broker, 'tlsReloaded', { ...where, certfile: tls?.certfile, keyfile: tls?.keyfile, cafile: tls?.cafile, crlfile: tls?.crlfile, pskFile: tls?.pskFile });
    } catch (error) {
      const file = error instanceof TlsFileError ? error.file : undefined;
      emit(broker, 'tlsReloadFailed', { ...where, file, err: (error as Error).message });
    }
  }
  return reloaded;
}

/** Whether the files were reloaded. */
async function reloadAccess(control: AccessControl, broker: Broker): Promise<boolean> {
  const files = { passwordFile: control.passwordFile, aclFile: control.aclFile };
  try {
    await control.reload();
  } catch (error) {
    // A ConfigError names file:line and the fix; anything else is still no reason to stop serving.
    const err = error instanceof ConfigError ? error.message : String(error);
    emit(broker, 'authReloadFailed', { ...files, err });
    return false;
  }
  reportPasswordWarnings(control, broker);
  const revoked = broker.revokeStaleLogins(control);
  const dropped = broker.dropUnreadable(control);
  emit(broker, 'authReloaded', { ...files, users: control.passwords?.size, revoked, dropped });
  return true;
}

/** Findings that do not stop a password file from loading (a user listed twice). */
export function reportPasswordWarnings(control: AccessControl, broker: Broker): void {
  for (const warning of control.passwords?.warnings ?? []) emit(broker, 'passwordFileWarning', { file: control.passwordFile, warning });
}
