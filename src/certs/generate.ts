// Development certificates for `moat certs`: a CA, a server certificate with the SANs a local
// broker needs, and client certificates for require_certificate listeners. RSA 2048 keys come from
// Node's crypto (fast, on the thread pool); node-forge builds and signs the X.509 structures.
// Nothing shells out to openssl.
import { generateKeyPair, createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { access, chmod, constants, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { MoatError } from '../codec/errors.js';

export const CERT_DEFAULTS = {
  dir: 'certs',
  days: 825,
  caDays: 3650,
  keyBits: 2048,
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
  /** One client certificate (CN=name, file name.crt/name.key) per name. */
  readonly clients?: readonly string[];
  /** Replace existing files, the CA included. */
  readonly force?: boolean;
  /** The host name added as a DNS SAN; default os.hostname(). */
  readonly hostname?: string;
}

export interface SubjectAltName {
  readonly type: 'DNS' | 'IP';
  readonly value: string;
}

export interface CertKeyPair {
  /** Absolute paths. */
  readonly cert: string;
  readonly key: string;
}

export interface GeneratedCerts {
  /** Absolute path of the output directory. */
  readonly dir: string;
  readonly ca: CertKeyPair & { readonly reused: boolean; readonly notAfter: Date };
  readonly server: CertKeyPair & { readonly sans: readonly SubjectAltName[]; readonly notAfter: Date };
  readonly clients: ReadonlyArray<CertKeyPair & { readonly name: string }>;
}

/** Why `moat certs` could not do its job; `message` is one sentence for the user. */
export class CertsError extends MoatError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('MOAT_ERR_CERTS', message, options);
    this.name = 'CertsError';
  }
}

const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
const RESERVED_NAMES = new Set(['ca', 'server']);

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

/** Creates (or, for the CA, reuses) the certificate files in options.dir. Checks everything before writing anything. */
export async function generateCerts(options: GenerateCertsOptions = {}): Promise<GeneratedCerts> {
  const dir = resolve(options.dir ?? CERT_DEFAULTS.dir);
  const days = checkDays('--days', options.days ?? CERT_DEFAULTS.days);
  const caDays = checkDays('CA validity', options.caDays ?? CERT_DEFAULTS.caDays);
  const force = options.force === true;
  const clientNames = checkClientNames(options.clients ?? []);
  const sans = serverSans(options.sans ?? [], options.hostname ?? hostname());

  const caPaths = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  const serverPaths = { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
  const clientPaths = clientNames.map((name) => ({ name, cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }));

  await prepareDirectory(dir);
  const caExists = await existing([caPaths.cert, caPaths.key]);
  if (!force) {
    if (caExists.length === 1) {
      throw new CertsError(`${caExists[0]} exists without its ${caExists[0] === caPaths.cert ? 'key (ca.key)' : 'certificate (ca.crt)'}; add the missing file or pass --force to create a new CA.`);
    }
    const clash = await existing([...Object.values(serverPaths), ...clientPaths.flatMap((c) => [c.cert, c.key])]);
    if (clash.length > 0) throw new CertsError(`${clash[0]} already exists; pass --force to replace it (and the CA), or choose another --dir.`);
  }

  // All keys at once: Node generates them on the thread pool.
  const reuseCa = !force && caExists.length === 2;
  const [caKeys, serverKeys, ...clientKeys] = await Promise.all([
    reuseCa ? Promise.resolve(undefined) : newKeyPair(),
    newKeyPair(),
    ...clientPaths.map(() => newKeyPair()),
  ]);

  const ca = reuseCa ? await loadCa(caPaths) : createCa(caKeys as KeyPair, caDays, options.hostname ?? hostname());
  const server = issue(ca, serverKeys as KeyPair, {
    commonName: sans.find((s) => s.type === 'DNS' && s.value !== 'localhost')?.value ?? 'localhost',
    days,
    extKeyUsage: 'serverAuth',
    sans,
  });
  const clients = clientPaths.map((c, i) => ({ ...c, ...issue(ca, clientKeys[i] as KeyPair, { commonName: c.name, days, extKeyUsage: 'clientAuth', sans: [] }) }));

  if (!reuseCa) await writePair(caPaths, ca.pem, (caKeys as KeyPair).privatePem);
  await writePair(serverPaths, server.pem, (serverKeys as KeyPair).privatePem);
  for (const [i, client] of clients.entries()) await writePair(client, client.pem, (clientKeys[i] as KeyPair).privatePem);

  return {
    dir,
    ca: { ...caPaths, reused: reuseCa, notAfter: ca.cert.validity.notAfter },
    server: { ...serverPaths, sans, notAfter: server.notAfter },
    clients: clientPaths,
  };
}

function checkDays(what: string, days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new CertsError(`${what} must be a whole number of days from 1 to 36500, not ${String(days)}.`);
  return days;
}

function checkClientNames(names: readonly string[]): string[] {
  const unique = [...new Set(names)];
  for (const name of unique) {
    if (!CLIENT_NAME.test(name)) {
      throw new CertsError(`client name "${name}" must start with a letter or digit and contain only letters, digits, "_", ".", "@" and "-" (it names the files).`);
    }
    if (RESERVED_NAMES.has(name.toLowerCase())) throw new CertsError(`client name "${name}" is taken by the ${name.toLowerCase()} files; choose another.`);
  }
  return unique;
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
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
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

async function writePair(paths: CertKeyPair, certPem: string, keyPem: string): Promise<void> {
  try {
    await writeFile(paths.key, keyPem, { mode: 0o600 });
    await chmod(paths.key, 0o600); // mode only applies to new files; --force may overwrite an old one
    await writeFile(paths.cert, certPem, { mode: 0o644 });
  } catch (error) {
    throw new CertsError(`cannot write ${paths.key}: ${reason(error)}.`, { cause: error });
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  return code === undefined ? message : `${code} (${message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')})`;
}

interface KeyPair {
  readonly privatePem: string;
  readonly privateKey: forge.pki.rsa.PrivateKey;
  readonly publicKey: forge.pki.rsa.PublicKey;
}

const generateKeyPairAsync = promisify(generateKeyPair);

async function newKeyPair(): Promise<KeyPair> {
  const { privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: CERT_DEFAULTS.keyBits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return fromPem(privateKey);
}

function fromPem(privatePem: string): KeyPair {
  const privateKey = forge.pki.privateKeyFromPem(privatePem) as forge.pki.rsa.PrivateKey;
  return { privatePem, privateKey, publicKey: forge.pki.setRsaPublicKey(privateKey.n, privateKey.e) };
}

interface Ca {
  readonly cert: forge.pki.Certificate;
  readonly privateKey: forge.pki.rsa.PrivateKey;
  readonly pem: string;
}

function createCa(keys: KeyPair, days: number, host: string): Ca {
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  setSerialAndValidity(cert, days);
  const subject = [
    { name: 'commonName', value: `moat development CA (${host})` },
    { name: 'organizationName', value: 'moat' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert, privateKey: keys.privateKey, pem: forge.pki.certificateToPem(cert) };
}

async function loadCa(paths: CertKeyPair): Promise<Ca> {
  let certPem: string;
  let keyPem: string;
  try {
    [certPem, keyPem] = await Promise.all([readFile(paths.cert, 'utf8'), readFile(paths.key, 'utf8')]);
  } catch (error) {
    throw new CertsError(`cannot read the existing CA in ${paths.cert}: ${reason(error)}.`, { cause: error });
  }
  try {
    if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the key does not belong to the certificate');
    const { privateKey } = fromPem(keyPem);
    return { cert: forge.pki.certificateFromPem(certPem), privateKey, pem: certPem };
  } catch (error) {
    throw new CertsError(
      `cannot reuse the CA in ${paths.cert} (${(error as Error).message.replace(/\.$/, '')}); it must be an unencrypted RSA CA with its key in ca.key, or pass --force to create a new one.`,
      { cause: error },
    );
  }
}

interface LeafOptions {
  readonly commonName: string;
  readonly days: number;
  readonly extKeyUsage: 'serverAuth' | 'clientAuth';
  readonly sans: readonly SubjectAltName[];
}

function issue(ca: Ca, keys: KeyPair, options: LeafOptions): { pem: string; notAfter: Date } {
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  setSerialAndValidity(cert, options.days);
  cert.setSubject([{ name: 'commonName', value: options.commonName }]);
  cert.setIssuer(ca.cert.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', [options.extKeyUsage]: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (options.sans.length > 0) {
    extensions.push({
      name: 'subjectAltName',
      altNames: options.sans.map((san) => (san.type === 'IP' ? { type: 7, ip: san.value } : { type: 2, value: san.value })),
    });
  }
  cert.setExtensions(extensions);
  cert.sign(ca.privateKey, forge.md.sha256.create());
  return { pem: forge.pki.certificateToPem(cert), notAfter: cert.validity.notAfter };
}

function setSerialAndValidity(cert: forge.pki.Certificate, days: number): void {
  // 16 random bytes, first byte in 0x40..0x7f: positive, and minimal DER (no leading zero byte).
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x3f) | 0x40;
  cert.serialNumber = serial.toString('hex');
  const now = Date.now();
  // A few minutes back, so a client whose clock is slightly behind still accepts a fresh certificate.
  cert.validity.notBefore = new Date(now - 5 * 60_000);
  cert.validity.notAfter = new Date(now + days * 86_400_000);
}
