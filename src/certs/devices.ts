// Bulk issuance for manufacturing: which device ids a batch has (numbered, or one per line of a
// file), and the manifest of what was issued (manifest.csv beside the device certificates).
import { readFile } from 'node:fs/promises';
import { CertsError } from './errors.js';

/** Letters, digits, "_", ".", "@", "-"; it names the files and becomes the CN (the user name). */
export const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
const RESERVED_IDS = new Set(['ca', 'server']);
export const MAX_DEVICES = 100_000;

/** Why `id` cannot name a client certificate, or undefined when it can. */
export function clientIdProblem(id: string): string | undefined {
  if (!CLIENT_ID.test(id)) return `"${id}" must be 1 to 64 characters, start with a letter or digit and contain only letters, digits, "_", ".", "@" and "-" (it names the files)`;
  if (RESERVED_IDS.has(id.toLowerCase())) return `"${id}" is taken by the ${id.toLowerCase()} files; choose another`;
  return undefined;
}

/**
 * `--clients N --client-prefix P`: P0001 … PN, numbered from 1 and zero-padded to at least 4 digits
 * (to N's width when N has more), so the names sort in order and line up whatever the batch size.
 */
export function numberedIds(count: number, prefix: string): string[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_DEVICES) throw new CertsError(`--clients must be a whole number from 1 to ${MAX_DEVICES}, not ${String(count)}.`);
  const width = Math.max(4, String(count).length);
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(width, '0')}`);
  const problem = clientIdProblem(ids[ids.length - 1] as string) ?? clientIdProblem(ids[0] as string);
  if (problem !== undefined) throw new CertsError(`--client-prefix "${prefix}" makes device ids like ${problem}.`);
  return ids;
}

/** `--clients-from FILE`: one id per line; blank lines and lines starting with # are skipped. */
export async function idsFromFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CertsError(`cannot read --clients-from ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`, { cause: error });
  }
  const ids: string[] = [];
  const firstLine = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const id = raw.trim();
    if (id === '' || id.startsWith('#')) return;
    const problem = clientIdProblem(id);
    if (problem !== undefined) throw new CertsError(`${path}:${line}: device id ${problem}.`);
    // Case-insensitive: the files sensor-1.crt and SENSOR-1.crt collide on some file systems.
    const seen = firstLine.get(id.toLowerCase());
    if (seen !== undefined) throw new CertsError(`${path}:${line}: device id "${id}" is already on line ${seen}; each device needs its own id.`);
    firstLine.set(id.toLowerCase(), line);
    ids.push(id);
  });
  if (ids.length === 0) throw new CertsError(`${path} lists no device ids (one per line; blank lines and # comments are skipped).`);
  if (ids.length > MAX_DEVICES) throw new CertsError(`${path} lists ${ids.length} device ids; at most ${MAX_DEVICES} at a time.`);
  return ids;
}

/** One device in the manifest. cert and key are file names relative to the manifest's directory. */
export interface ManifestRow {
  readonly id: string;
  readonly cert: string;
  readonly key: string;
  readonly sha256: string;
  readonly serial: string;
  readonly notAfter: string;
}

export const MANIFEST_NAME = 'manifest.csv';
const HEADER = 'id,cert,key,sha256,serial,not_after';

/**
 * The rows of an existing manifest (none when the file is missing), so a later batch into the same
 * directory adds to it. A file moat did not write is refused rather than overwritten.
 */
export async function readManifest(path: string): Promise<ManifestRow[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new CertsError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`, { cause: error });
  }
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines[0] !== HEADER) throw new CertsError(`${path} exists but is not a manifest moat certs wrote (its first line is not "${HEADER}"); move it away or choose another --clients-dir.`);
  return lines.slice(1).map((line, i) => {
    const [id, cert, key, sha256, serial, notAfter, ...rest] = line.split(',');
    if (id === undefined || cert === undefined || key === undefined || sha256 === undefined || serial === undefined || notAfter === undefined || rest.length > 0) {
      throw new CertsError(`${path}:${i + 2}: not an "${HEADER}" row; fix or remove the line.`);
    }
    return { id, cert, key, sha256, serial, notAfter };
  });
}

/** The earlier rows, with this batch's ids replaced where they were reissued (--force), then the new ones. */
export function mergeManifest(earlier: readonly ManifestRow[], batch: readonly ManifestRow[]): ManifestRow[] {
  const byId = new Map(batch.map((row) => [row.id, row]));
  const merged = earlier.map((row) => byId.get(row.id) ?? row);
  const kept = new Set(earlier.map((row) => row.id));
  return [...merged, ...batch.filter((row) => !kept.has(row.id))];
}

/** CSV without quoting: ids, file names, hex and ISO dates never hold a comma. */
export function formatManifest(rows: readonly ManifestRow[]): string {
  return `${[HEADER, ...rows.map((r) => [r.id, r.cert, r.key, r.sha256, r.serial, r.notAfter].join(','))].join('\n')}\n`;
}
