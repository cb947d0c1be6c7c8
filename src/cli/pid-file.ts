// pid_file for `moat broker`: the process id is written when the broker starts (a file that cannot
// be written stops it, as in Mosquitto) and removed when it stops.
import { rm, writeFile } from 'node:fs/promises';

/** Writes this process's id to `path`; returns why it could not, or undefined. */
export async function writePidFile(path: string): Promise<string | undefined> {
  try {
    await writeFile(path, `${process.pid}\n`);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'its directory does not exist' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (error as Error).message;
    return `cannot write pid_file ${path}: ${why}. Fix: create the directory and let the user moat runs as write to it, or remove the pid_file line.`;
  }
}

/** Removes the pid file written at start; a file already gone is fine. */
export async function removePidFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
