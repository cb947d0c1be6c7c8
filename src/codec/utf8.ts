// MQTT UTF-8 Encoded Strings (3.1.1 §1.5.3, 5.0 §1.5.4): well-formed UTF-8 (no surrogates, no
// overlongs) and no U+0000 [MQTT-1.5.3-1] [MQTT-1.5.3-2]. Control characters and non-characters are
// only "SHOULD NOT", so they pass here; the broker may apply a stricter policy.
import { isUtf8 } from 'node:buffer';

/** Below this length a JS byte loop beats the native call's fixed cost. */
const SHORT = 32;

/**
 * Decodes bytes [start, end) of `buf` as an MQTT UTF-8 string, or returns undefined when they are
 * not well-formed UTF-8 or contain U+0000. Returns undefined instead of throwing: it runs for every
 * topic of every PUBLISH.
 */
export function decodeMqttString(buf: Buffer, start: number, end: number): string | undefined {
  if (end - start <= SHORT) {
    // Fast path: most topics are short pure ASCII without NUL.
    let ascii = true;
    for (let i = start; i < end; i++) {
      const b = buf[i] as number;
      if (b === 0) return undefined;
      if (b >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return buf.toString('latin1', start, end);
  }
  const slice = buf.subarray(start, end);
  if (slice.indexOf(0) !== -1) return undefined;
  // isUtf8 (simdutf) rejects surrogates, overlongs and code points above U+10FFFF, exactly what a
  // fatal TextDecoder rejects, but without throwing.
  if (!isUtf8(slice)) return undefined;
  return slice.toString('utf8');
}

/** True when `bytes` is a valid MQTT UTF-8 string (well-formed, no U+0000). */
export function isValidMqttUtf8(bytes: Uint8Array): boolean {
  if (bytes.indexOf(0) !== -1) return false;
  return isUtf8(bytes);
}

const fatalDecoder = new TextDecoder('utf-8', { fatal: true });

/** Like decodeMqttString, for any Uint8Array, via a fatal TextDecoder (off the hot path). */
export function decodeMqttUtf8(bytes: Uint8Array): string | undefined {
  if (bytes.indexOf(0) !== -1) return undefined;
  try {
    return fatalDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * True when a JS string can be sent as an MQTT string: no U+0000 and no lone surrogate (which
 * Buffer.write would silently turn into U+FFFD).
 */
export function isValidMqttString(s: string): boolean {
  if (s.includes('\0')) return false;
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}
