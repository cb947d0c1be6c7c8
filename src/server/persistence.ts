// Where the broker keeps its state, from the config: the SQLite store on persistence_location +
// persistence_file (Mosquitto's options), or, with no location, in moat's state directory
// ($XDG_STATE_HOME/moat, else ~/.local/state/moat, made on first use). `persistence false` keeps
// everything in memory, as Mosquitto does by default. The file is held locked while the broker
// runs, so a second broker on it is refused at start (MOAT_ERR_STORE_LOCKED).
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { Message } from '../broker/message.js';
import type { BrokerConfig } from '../config/types.js';
import { SqliteStore } from '../store/sqlite.js';

export const DEFAULT_PERSISTENCE_FILE = 'moat.db';

/** moat's state directory for this user (XDG Base Directory: $XDG_STATE_HOME, default ~/.local/state). */
export function stateDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_STATE_HOME'];
  return join(base !== undefined && isAbsolute(base) ? base : join(homedir(), '.local', 'state'), 'moat');
}

/** The persistence file `config` names, absolute; undefined with `persistence false`. */
export function persistencePath(config: Pick<BrokerConfig, 'persistence' | 'persistenceFile' | 'persistenceLocation'>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!config.persistence) return undefined;
  const file = config.persistenceFile ?? DEFAULT_PERSISTENCE_FILE;
  if (config.persistenceLocation !== undefined) return resolve(config.persistenceLocation, file);
  if (file.includes('/')) return resolve(file);
  return join(stateDirectory(env), file);
}

/**
 * Opens the store `config` asks for (undefined: memory only). Throws MOAT_ERR_STORE_LOCKED when
 * another broker has the file, MOAT_ERR_STORE_FILE when it cannot be opened or is not moat's.
 */
export function openPersistence(config: BrokerConfig, env: NodeJS.ProcessEnv = process.env): SqliteStore<Message> | undefined {
  const file = persistencePath(config, env);
  if (file === undefined) return undefined;
  // The default directory is made for the user; a configured one must exist, as with Mosquitto.
  if (config.persistenceLocation === undefined && !(config.persistenceFile ?? '').includes('/')) mkdirSync(stateDirectory(env), { recursive: true, mode: 0o700 });
  return new SqliteStore<Message>(file, { sync: config.persistenceSync, exclusive: true });
}
