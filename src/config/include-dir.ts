// include_dir: reading a directory's *.conf files in mosquitto's order, for loadConfig (parse.ts).
import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/** A config file's name and contents. */
export interface ConfigFileText {
  readonly file: string;
  readonly text: string;
}

/** What reading an include_dir gave: its *.conf files in load order, or why it failed. */
export type IncludeDirResult =
  | { readonly files: readonly ConfigFileText[] }
  | { readonly error: string; readonly fix?: string };

/**
 * mosquitto's include_dir order: case-insensitive first, then upper case before lower case of the same
 * letter (00.conf, 01.conf, A.conf, a.conf, B.conf, b.conf).
 */
export function compareIncludeNames(a: string, b: string): number {
  const upper = (c: number): number => (c >= 0x61 && c <= 0x7a ? c - 0x20 : c);
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    const folded = upper(ca) - upper(cb);
    if (folded !== 0) return folded;
    if (ca !== cb) return ca - cb;
  }
  return a.length - b.length;
}

export async function readIncludeDir(mainFile: string, dir: string): Promise<IncludeDirResult> {
  const full = isAbsolute(dir) ? dir : join(dirname(mainFile), dir);
  let entries: Dirent[];
  try {
    entries = await readdir(full, { withFileTypes: true });
  } catch (err) {
    return {
      error: `cannot read directory "${full}": ${describeFsError(err)}`,
      fix: 'create the directory or correct the path (a relative path is relative to the main config file).',
    };
  }
  const names = entries
    .filter((e) => e.name.endsWith('.conf') && !e.isDirectory())
    .map((e) => e.name)
    .sort(compareIncludeNames);
  const files: ConfigFileText[] = [];
  for (const name of names) {
    const file = join(full, name);
    if (resolve(file) === resolve(mainFile)) {
      return {
        error: `the directory contains the main config file ${mainFile}, which would be read twice`,
        fix: 'move the main config file out of that directory, or include another directory.',
      };
    }
    try {
      files.push({ file, text: await readFile(file, 'utf8') });
    } catch (err) {
      return { error: `cannot read included file "${file}": ${describeFsError(err)}`, fix: 'check its permissions.' };
    }
  }
  return { files };
}

export function describeFsError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'it does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOTDIR':
      return 'it is not a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

