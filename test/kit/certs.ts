// Throwaway development certificates for tests and benchmarks (a CA and a localhost server
// certificate, P-256). Uses Debian's openssl CLI; `moat certs` (the security issue) will replace it.
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** A CA (CN `caName`) and a localhost server certificate it signed, in `dir`. */
export function makeTestCertificates(dir: string, caName = 'moat test CA'): TlsFiles {
  const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${caName}`]);
  run(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf']);
  // Mosquitto started as root drops to the "mosquitto" user before reading certificates: make the
  // throwaway directory and files readable to it.
  chmodSync(dir, 0o755);
  for (const f of ['ca.pem', 'server.pem', 'server.key']) chmodSync(join(dir, f), 0o644);
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

/**
 * A client certificate for `cn`, signed by the CA of `files` (from makeTestCertificates in the same
 * `dir`), with extendedKeyUsage clientAuth; for listeners with require_certificate true.
 */
export function makeClientCertificate(dir: string, files: TlsFiles, cn: string): { cert: string; key: string } {
  const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const base = `client-${cn.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  const caKey = join(dirname(files.ca), 'ca.key');
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`]);
  writeFileSync(join(dir, `${base}.cnf`), 'extendedKeyUsage=clientAuth\n');
  run(['x509', '-req', '-in', `${base}.csr`, '-CA', files.ca, '-CAkey', caKey, '-CAcreateserial', '-out', `${base}.pem`, '-days', '2', '-extfile', `${base}.cnf`]);
  for (const f of [`${base}.pem`, `${base}.key`]) chmodSync(join(dir, f), 0o644);
  return { cert: join(dir, `${base}.pem`), key: join(dir, `${base}.key`) };
}
