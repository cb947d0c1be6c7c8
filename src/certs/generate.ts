// Development certificates for `moat certs`: a CA, a server certificate with the SANs a local
// broker needs, client certificates for require_certificate listeners, and bulk device certificates
// with a manifest for manufacturing. Keys are ECDSA P-256 by default (RSA-2048 on request), made and
// signed on Node's WebCrypto (keys.ts, x509.ts). Nothing shells out to openssl.
import { X509Certificate } from 'node:crypto';
import { access, chmod, constants, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { basename, join, resolve, sep } from 'node:path';
import { MoatError } from '../codec/errors.js';
import { clientIdProblem, formatManifest, MANIFEST_NAME, mergeManifest, readManifest, type ManifestRow } from './devices.js';
import { CertsError } from './errors.js';
import { KEY_TYPES, newKeyPair, type KeyPair, type KeyType } from './keys.js';
import { createCa, issue, loadCa, type Issuer, type SubjectAltName } from './x509.js';

export { CertsError } from './errors.js';
export { KEY_TYPE_LABELS, type KeyType } from './keys.js';
export type { SubjectAltName } from './x509.js';

export const CERT_DEFAULTS = {
  dir: 'certs',
  days: 825,
  caDays: 3650,
  keyType: 'ec',
  /** Bulk device certificates go here, under --dir: never beside ca.key unless asked. */
  devicesDir: 'clients',
  devicePrefix: 'device-',
} as const;

export interface GenerateCertsOptions {
  /** Output directory; created if missing. Default `./certs` (relative to the process's cwd). */
  readonly dir?: string;
  /** Extra server names: an IP address string becomes an IP SAN, anything else a DNS SAN. */
  readonly sans?: readonly string[];
  /** Validity of the server and client certificates, in days. Default 825. */
  readonly days?: number;
  /** Validity of a newly created CA, in days. Default 3650. */
  readonly caDays?: number;
  /** Key type of every key made now (a reused CA keeps its own). Default 'ec': ECDSA P-256. */
  readonly keyType?: KeyType;
  /** One client certificate (CN=name, file name.crt/name.key in `dir`) per name. */
  readonly clients?: readonly string[];
  /**
   * Bulk issuance: one certificate per device id (CN=id, id.crt/id.key) in `devicesDir`, listed in
   * its manifest.csv. An existing server certificate is kept (a later batch must not replace it).
   */
  readonly devices?: readonly string[];
  /** Where device certificates go; default `<dir>/clients`. */
  readonly devicesDir?: string;
  /** Replace existing files, the CA included. */
  readonly force?: boolean;
  /** The host name added as a DNS SAN; default os.hostname(). */
  readonly hostname?: string;
}

export interface CertKeyPair {
  /** Absolute paths. */
  readonly cert: string;
  readonly key: string;
}

export interface DeviceCert extends CertKeyPair {
  readonly id: string;
  readonly sha256: string;
  readonly serial: string;
  readonly notAfter: Date;
}

export interface GeneratedCerts {
  /** Absolute path of the output directory. */
  readonly dir: string;
  /** The key type of the keys made now. */
  readonly keyType: KeyType;
  readonly ca: CertKeyPair & { readonly reused: boolean; readonly notAfter: Date; readonly keyLabel: string };
  /** `reused`: a bulk run kept the existing server certificate. */
  readonly server: CertKeyPair & { readonly reused: boolean; readonly sans: readonly SubjectAltName[]; readonly notAfter: Date };
  readonly clients: ReadonlyArray<CertKeyPair & { readonly name: string }>;
  /** Bulk issuance, when `devices` was given. */
  readonly devices: { readonly dir: string; readonly manifest: string; readonly certs: readonly DeviceCert[] } | undefined;
}

/** Keys made and certificates signed at once: enough to keep libuv's 4 threads busy, no more. */
const CONCURRENCY = 16;

/** The server's SANs: localhost, 127.0.0.1, ::1, the host name, then `extra`, without duplicates. */
export function serverSans(extra: readonly string[], host: string = hostname()): SubjectAltName[] {
  const sans: SubjectAltName[] = [];
  const seen = new Set<string>();
  for (const raw of ['localhost', '127.0.0.1', '::1', host, ...extra]) {
    const value = raw.trim();
    if (value === '') continue;
    const san: SubjectAltName = isIP(value) === 0 ? { type: 'DNS', value: value.toLowerCase() } : { type: 'IP', value };
    const key = `${san.type}:${san.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    sans.push(san);
  }
  return sans;
}

/** Creates (or, for the CA, reuses) the certificate files. Checks everything before writing anything. */
export async function generateCerts(options: GenerateCertsOptions = {}): Promise<GeneratedCerts> {
  const dir = resolve(options.dir ?? CERT_DEFAULTS.dir);
  const days = checkDays('--days', options.days ?? CERT_DEFAULTS.days);
  const caDays = checkDays('CA validity', options.caDays ?? CERT_DEFAULTS.caDays);
  const keyType = options.keyType ?? CERT_DEFAULTS.keyType;
  if (!(KEY_TYPES as readonly string[]).includes(keyType)) throw new CertsError(`key type must be one of ${KEY_TYPES.join(', ')}, not ${String(keyType)}.`);
  const force = options.force === true;
  const host = options.hostname ?? hostname();
  const clientNames = checkIds('client name', options.clients ?? []);
  const bulk = options.devices !== undefined;
  const devicesDir = bulk ? resolve(options.devicesDir ?? join(dir, CERT_DEFAULTS.devicesDir)) : undefined;
  const deviceIds = checkIds('device id', options.devices ?? []);
  if (bulk && deviceIds.length === 0) throw new CertsError('the list of device ids is empty.');
  if (devicesDir === dir) {
    const clash = deviceIds.find((id) => clientNames.some((name) => name.toLowerCase() === id.toLowerCase()));
    if (clash !== undefined) throw new CertsError(`"${clash}" is both a --client name and a device id in ${dir}; each needs its own files.`);
  }

  const caPaths = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  const serverPaths = { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
  const clientPaths = clientNames.map((name) => ({ name, cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }));
  const devicePaths = devicesDir === undefined ? [] : deviceIds.map((id) => ({ id, cert: join(devicesDir, `${id}.crt`), key: join(devicesDir, `${id}.key`) }));
  const manifestPath = devicesDir === undefined ? undefined : join(devicesDir, MANIFEST_NAME);

  await prepareDirectory(dir);
  if (devicesDir !== undefined) await prepareDirectory(devicesDir);
  const caExists = await existing([caPaths.cert, caPaths.key]);
  const serverExists = await existing([serverPaths.cert, serverPaths.key]);
  const keepServer = bulk && !force && serverExists.length === 2;
  if (!force) {
    if (caExists.length === 1) {
      throw new CertsError(`${caExists[0]} exists without its ${caExists[0] === caPaths.cert ? 'key (ca.key)' : 'certificate (ca.crt)'}; add the missing file or pass --force to create a new CA.`);
    }
    if (keepServer && (options.sans ?? []).length > 0) {
      throw new CertsError(`${serverPaths.cert} exists and a bulk run keeps it, so --san would not apply; move server.crt and server.key away to make a new one.`);
    }
    const clash = [
      ...(keepServer ? [] : serverExists),
      ...(await existing(clientPaths.flatMap((c) => [c.cert, c.key]))),
      ...(devicesDir === undefined ? [] : await existingIn(devicesDir, devicePaths.flatMap((d) => [d.cert, d.key]))),
    ];
    if (clash.length > 0) {
      const device = devicePaths.some((d) => d.cert === clash[0] || d.key === clash[0]);
      const advice = device ? 'choose other device ids or another --clients-dir, or pass --force to replace it (and the CA)' : 'pass --force to replace it (and the CA), or choose another --dir';
      throw new CertsError(`${clash[0]} already exists; ${advice}.`);
    }
  }
  const earlierRows = manifestPath === undefined ? [] : await readManifest(manifestPath);

  const reuseCa = !force && caExists.length === 2;
  const caKeys = reuseCa ? undefined : await newKeyPair(keyType);
  const ca = caKeys === undefined ? await reuse(caPaths) : await createCa(caKeys, caDays, host);
  const sans = serverSans(options.sans ?? [], host);

  const kept = keepServer ? await checkKeptServer(serverPaths.cert, caPaths.cert, ca) : undefined;
  const [server, clients, devices] = await Promise.all([
    kept ??
      issueWithNewKey(ca, keyType, { commonName: sans.find((s) => s.type === 'DNS' && s.value !== 'localhost')?.value ?? 'localhost', days, extKeyUsage: 'serverAuth', sans }).then((made) => ({ ...made, sans })),
    mapLimit(clientPaths, CONCURRENCY, async (c) => ({ ...c, ...(await issueWithNewKey(ca, keyType, { commonName: c.name, days, extKeyUsage: 'clientAuth', sans: [] })) })),
    mapLimit(devicePaths, CONCURRENCY, async (d) => ({ ...d, ...(await issueWithNewKey(ca, keyType, { commonName: d.id, days, extKeyUsage: 'clientAuth', sans: [] })) })),
  ]);

  if (caKeys !== undefined) await writePair(caPaths, ca.pem, caKeys.privatePem);
  if ('pem' in server) await writePair(serverPaths, server.pem, server.keyPem);
  for (const client of clients) await writePair(client, client.pem, client.keyPem);
  await mapLimit(devices, CONCURRENCY, (d) => writePair(d, d.pem, d.keyPem));
  if (manifestPath !== undefined) {
    const rows: ManifestRow[] = devices.map((d) => ({ id: d.id, cert: basename(d.cert), key: basename(d.key), sha256: d.sha256, serial: d.serial, notAfter: d.notAfter.toISOString() }));
    await writeText(manifestPath, formatManifest(mergeManifest(earlierRows, rows)), 0o644);
  }

  return {
    dir,
    keyType,
    ca: { ...caPaths, reused: reuseCa, notAfter: ca.notAfter, keyLabel: ca.key.label },
    server: { ...serverPaths, reused: kept !== undefined, sans: server.sans, notAfter: server.notAfter },
    clients: clientPaths,
    devices:
      devicesDir === undefined || manifestPath === undefined
        ? undefined
        : { dir: devicesDir, manifest: manifestPath, certs: devices.map((d) => ({ id: d.id, cert: d.cert, key: d.key, sha256: d.sha256, serial: d.serial, notAfter: d.notAfter })) },
  };
}

async function issueWithNewKey(ca: Issuer, keyType: KeyType, leaf: Parameters<typeof issue>[2]): Promise<Awaited<ReturnType<typeof issue>> & { keyPem: string }> {
  const keys: KeyPair = await newKeyPair(keyType);
  return { ...(await issue(ca, keys, leaf)), keyPem: keys.privatePem };
}

async function reuse(paths: CertKeyPair): Promise<Issuer> {
  let certPem: string;
  let keyPem: string;
  try {
    [certPem, keyPem] = await Promise.all([readFile(paths.cert, 'utf8'), readFile(paths.key, 'utf8')]);
  } catch (error) {
    throw new CertsError(`cannot read the existing CA in ${paths.cert}: ${reason(error)}.`, { cause: error });
  }
  try {
    return await loadCa(certPem, keyPem);
  } catch (error) {
    throw new CertsError(
      `cannot reuse the CA in ${paths.cert} (${(error as Error).message.replace(/\.$/, '')}); it must be an unencrypted RSA or ECDSA CA with its key in ca.key, or pass --force to create a new one.`,
      { cause: error },
    );
  }
}

/** A kept server certificate must be one this CA signed, or every device would refuse the broker. */
async function checkKeptServer(certPath: string, caPath: string, ca: Issuer): Promise<{ notAfter: Date; sans: SubjectAltName[] }> {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await readFile(certPath));
  } catch (error) {
    throw new CertsError(`cannot read the existing server certificate ${certPath}: ${reason(error)}.`, { cause: error });
  }
  if (!cert.checkIssued(new X509Certificate(ca.pem)) || !cert.verify(new X509Certificate(ca.pem).publicKey)) {
    throw new CertsError(`${certPath} was not signed by ${caPath}, so devices would not trust the broker; move server.crt and server.key away to make a new one.`);
  }
  const sans = (cert.subjectAltName ?? '')
    .split(', ')
    .map((entry): SubjectAltName | undefined => (entry.startsWith('DNS:') ? { type: 'DNS', value: entry.slice(4) } : entry.startsWith('IP Address:') ? { type: 'IP', value: entry.slice(11) } : undefined))
    .filter((san): san is SubjectAltName => san !== undefined);
  return { notAfter: new Date(cert.validTo), sans };
}

function checkDays(what: string, days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new CertsError(`${what} must be a whole number of days from 1 to 36500, not ${String(days)}.`);
  return days;
}

function checkIds(what: string, ids: readonly string[]): string[] {
  const unique = [...new Set(ids)];
  for (const id of unique) {
    const problem = clientIdProblem(id);
    if (problem !== undefined) throw new CertsError(`${what} ${problem}.`);
  }
  return unique;
}

/** At most `limit` of fn at once, results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * mkdir -p, one level at a time: Node 20's recursive mkdir spins forever where a level cannot be
 * created but reports ENOENT (under /proc, for one), instead of failing.
 */
async function makeDirectory(dir: string): Promise<void> {
  const parts = resolve(dir).split(sep).filter((part) => part !== '');
  let path: string = sep;
  for (const part of parts) {
    path = join(path, part);
    try {
      await mkdir(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

async function prepareDirectory(dir: string): Promise<void> {
  try {
    await makeDirectory(dir);
    if (!(await stat(dir)).isDirectory()) throw new MoatError('MOAT_ERR_CERTS', 'not a directory');
    await access(dir, constants.W_OK);
  } catch (error) {
    throw new CertsError(`cannot write certificates to ${dir}: ${reason(error)}.`, { cause: error });
  }
}

async function existing(paths: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const path of paths) {
    try {
      await stat(path);
      found.push(path);
    } catch {
      // missing: fine
    }
  }
  return found;
}

/** `existing` for many files of one directory: one readdir instead of a stat per file. */
async function existingIn(dir: string, paths: readonly string[]): Promise<string[]> {
  const names = new Set(await readdir(dir));
  return paths.filter((path) => names.has(basename(path)));
}

async function writePair(paths: CertKeyPair, certPem: string, keyPem: string): Promise<void> {
  await writeText(paths.key, keyPem, 0o600);
  await writeText(paths.cert, certPem, 0o644);
}

async function writeText(path: string, text: string, mode: number): Promise<void> {
  try {
    await writeFile(path, text, { mode });
    await chmod(path, mode); // mode only applies to new files; --force may overwrite an old one
  } catch (error) {
    throw new CertsError(`cannot write ${path}: ${reason(error)}.`, { cause: error });
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  return code === undefined ? message : `${code} (${message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')})`;
}
