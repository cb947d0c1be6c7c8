// A throwaway certificate authority run with Debian's `openssl ca`, for tests that need what
// makeTestCertificates cannot give: client certificates with chosen validity dates, revocation,
// and CRLs. Everything lands in `dir` (made 0755, files 0644: Mosquitto reads them as its own user).
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTestCertificates, type TlsFiles } from './certs.js';

export interface ClientFiles {
  readonly cert: string;
  readonly key: string;
}

export interface TestCa extends TlsFiles {
  readonly dir: string;
  /** A client certificate (extendedKeyUsage clientAuth) for `cn`; dates as openssl ca takes them (YYYYMMDDHHMMSSZ). */
  issue(cn: string, validity?: { readonly start: string; readonly end: string }): ClientFiles;
  /** Marks `cert` revoked in the CA's database (it shows in the next crl()). */
  revoke(cert: string): void;
  /** Writes a PEM CRL of everything revoked so far to `file`, valid for `days` (default 2). */
  crl(file: string, days?: number): string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A CA (`name` as its CN) with a localhost server certificate, in `dir`. */
export function makeTestCa(dir: string, name = 'moat test CA'): TestCa {
  const files = makeTestCertificates(dir, name);
  const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(join(dir, 'crlnumber'), '1000\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = test_ca',
      '[test_ca]',
      'database = index.txt',
      'serial = serial',
      'crlnumber = crlnumber',
      'new_certs_dir = .',
      'certificate = ca.pem',
      'private_key = ca.key',
      'default_md = sha256',
      'default_days = 2',
      'default_crl_days = 2',
      'policy = any',
      'unique_subject = no',
      'x509_extensions = client',
      '[any]',
      'commonName = supplied',
      '[client]',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
  const readable = (): void => {
    for (const f of readdirSync(dir)) if (/\.(pem|key|crl)$/.test(f)) chmodSync(join(dir, f), 0o644);
  };
  return {
    ...files,
    dir,
    issue(cn, validity) {
      const base = `client-${cn.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
      run(['req', ...EC, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`]);
      const dates = validity === undefined ? [] : ['-startdate', validity.start, '-enddate', validity.end];
      run(['ca', '-batch', '-config', 'ca.cnf', '-notext', '-in', `${base}.csr`, '-out', `${base}.pem`, ...dates]);
      readable();
      return { cert: join(dir, `${base}.pem`), key: join(dir, `${base}.key`) };
    },
    revoke(cert) {
      run(['ca', '-config', 'ca.cnf', '-revoke', cert]);
    },
    crl(file, days = 2) {
      run(['ca', '-config', 'ca.cnf', '-gencrl', '-crldays', String(days), '-out', `${file}.tmp`]);
      chmodSync(`${file}.tmp`, 0o644);
      // Replace in one step: a broker reading the file on SIGHUP never sees half of it.
      renameSync(`${file}.tmp`, file);
      return file;
    },
  };
}
