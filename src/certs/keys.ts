// Key pairs for `moat certs`, on Node's WebCrypto: ECDSA P-256 by default (fast to make, small, and
// the cheapest handshake for a slow device), RSA-2048 for TLS stacks without ECDSA; and an existing
// CA key of either kind read back from its PEM, to sign with.
import { createPrivateKey, webcrypto, type KeyObject } from 'node:crypto';
import { MoatError } from '../codec/errors.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

export const KEY_TYPES = ['ec', 'rsa'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

/** What reports and docs call each key type. */
export const KEY_TYPE_LABELS: Readonly<Record<KeyType, string>> = { ec: 'ECDSA P-256', rsa: 'RSA-2048' };

/** The words `--key-type` takes: ec and p256 both name the default. */
const KEY_TYPE_WORDS: Readonly<Record<string, KeyType>> = { ec: 'ec', p256: 'ec', 'p-256': 'ec', rsa: 'rsa' };
export const KEY_TYPE_CHOICES = 'ec (or p256, the default) or rsa';

export function parseKeyType(word: string): KeyType | undefined {
  return KEY_TYPE_WORDS[word.trim().toLowerCase()];
}

const GENERATE: Readonly<Record<KeyType, webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams>> = {
  ec: { name: 'ECDSA', namedCurve: 'P-256' },
  rsa: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
};

/** A fresh key pair and its private key as it is written to disk (unencrypted PKCS#8 PEM). */
export interface KeyPair {
  readonly type: KeyType;
  readonly keys: CryptoKeyPair;
  readonly privatePem: string;
}

/** Generated on libuv's thread pool: many at once run in parallel. */
export async function newKeyPair(type: KeyType): Promise<KeyPair> {
  const keys = (await webcrypto.subtle.generateKey(GENERATE[type], true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { type, keys, privatePem: toPem('PRIVATE KEY', pkcs8) };
}

/** A CA's private key, ready to sign certificates, and the algorithm it signs with. */
export interface SigningKey {
  readonly privateKey: CryptoKey;
  readonly algorithm: webcrypto.EcdsaParams | webcrypto.Algorithm;
  /** "ECDSA P-256", "RSA-3072", ... */
  readonly label: string;
}

/** The curves WebCrypto signs with, by OpenSSL's name, and the hash that matches each one's strength. */
const CURVES: Readonly<Record<string, { name: string; hash: string }>> = {
  prime256v1: { name: 'P-256', hash: 'SHA-256' },
  secp384r1: { name: 'P-384', hash: 'SHA-384' },
  secp521r1: { name: 'P-521', hash: 'SHA-512' },
};

export function signingKeyOf(pair: KeyPair): SigningKey {
  return {
    privateKey: pair.keys.privateKey,
    algorithm: pair.type === 'ec' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' },
    label: KEY_TYPE_LABELS[pair.type],
  };
}

/**
 * Reads an unencrypted private key in any PEM form OpenSSL writes (PKCS#8, PKCS#1 "RSA PRIVATE
 * KEY", SEC1 "EC PRIVATE KEY"): RSA of any size, or ECDSA on P-256, P-384 or P-521. Throws an
 * Error whose message says what the key is when it is none of these.
 */
export async function importSigningKey(pem: string): Promise<SigningKey> {
  const key: KeyObject = createPrivateKey(pem);
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
    return { privateKey, algorithm: { name: 'RSASSA-PKCS1-v1_5' }, label: `RSA-${bits}` };
  }
  const curve = key.asymmetricKeyType === 'ec' ? CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''] : undefined;
  if (curve === undefined) {
    const what = key.asymmetricKeyType === 'ec' ? `an EC key on ${key.asymmetricKeyDetails?.namedCurve ?? 'an unknown curve'}` : `of type ${key.asymmetricKeyType ?? 'unknown'}`;
    throw new MoatError('MOAT_ERR_CA_UNUSABLE', `its key is ${what}; moat signs with RSA or ECDSA on P-256, P-384 or P-521`);
  }
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: curve.name }, false, ['sign']);
  return { privateKey, algorithm: { name: 'ECDSA', hash: curve.hash }, label: `ECDSA ${curve.name}` };
}

function toPem(label: string, der: ArrayBuffer): string {
  const base64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${base64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}
