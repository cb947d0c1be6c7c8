// The password file and ACL file that apply to a listener (or to every listener when
// per_listener_settings is false). Sessions keep a reference to this object, not to the files, so a
// SIGHUP reload that swaps the files in place applies to connected clients at once — as in Mosquitto.
import type { ListenerConfig } from '../config/types.js';
import { AclFile, type AclAccess, type AclSubject } from './acl-file.js';
import { PasswordFile } from './password-file.js';

export class AccessControl {
  readonly passwordFile: string | undefined;
  readonly aclFile: string | undefined;
  passwords: PasswordFile | undefined;
  acl: AclFile | undefined;

  private constructor(passwordFile: string | undefined, aclFile: string | undefined) {
    this.passwordFile = passwordFile;
    this.aclFile = aclFile;
  }

  /** Reads both files; throws ConfigError naming the file and line when either is unusable. */
  static async load(passwordFile: string | undefined, aclFile: string | undefined): Promise<AccessControl> {
    const control = new AccessControl(passwordFile, aclFile);
    await control.reload();
    return control;
  }

  /**
   * One AccessControl per distinct (password_file, acl_file) pair of `listeners`, so listeners that
   * share the global files share one object (and one reload). Listeners with neither get none.
   */
  static async forListeners(listeners: readonly ListenerConfig[]): Promise<Map<ListenerConfig, AccessControl>> {
    const byFiles = new Map<string, Promise<AccessControl>>();
    const result = new Map<ListenerConfig, AccessControl>();
    for (const listener of listeners) {
      if (listener.passwordFile === undefined && listener.aclFile === undefined) continue;
      const key = `${listener.passwordFile ?? ''}\0${listener.aclFile ?? ''}`;
      let control = byFiles.get(key);
      if (control === undefined) {
        control = AccessControl.load(listener.passwordFile, listener.aclFile);
        byFiles.set(key, control);
      }
      result.set(listener, await control);
    }
    return result;
  }

  /** In-memory rules, for embedding and tests. */
  static of(passwords: PasswordFile | undefined, acl: AclFile | undefined): AccessControl {
    const control = new AccessControl(passwords?.file, acl?.file);
    control.passwords = passwords;
    control.acl = acl;
    return control;
  }

  /**
   * Re-reads both files. Both are read before either is swapped in, so a broken file leaves the
   * old rules of both in force (and the error names it).
   */
  async reload(): Promise<void> {
    const [passwords, acl] = await Promise.all([
      this.passwordFile === undefined ? undefined : PasswordFile.load(this.passwordFile),
      this.aclFile === undefined ? undefined : AclFile.load(this.aclFile),
    ]);
    this.passwords = passwords;
    this.acl = acl;
  }

  /** No ACL file means no topic restrictions (Mosquitto's rule). */
  allows(subject: AclSubject, access: AclAccess, topic: string): boolean {
    return this.acl === undefined || this.acl.check(subject, access, topic);
  }
}
