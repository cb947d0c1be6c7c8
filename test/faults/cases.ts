// Runs one table-driven fault case against a broker over a raw socket and checks how it ended:
// which packets came back after the CONNACK, and that the broker closed the connection in time.
import assert from 'node:assert/strict';
import type { ProtocolVersion } from '../../src/codec/types.js';
import { hex, RawClient, validConnect } from './raw-client.js';

export type Expectation =
  /** v5, after CONNACK: a DISCONNECT with this reason code is the only packet, then the close. */
  | { readonly disconnect: number }
  /** The close, and nothing at all after the CONNACK (or nothing at all when no CONNECT was sent). */
  | { readonly silentClose: true }
  /** A CONNACK with this return code (3.1.1) / reason code (5.0) is the only packet, then the close. */
  | { readonly connack: number }
  /**
   * A bad CONNECT under 5.0: the close, never a DISCONNECT (not before a successful CONNACK
   * [MQTT-3.14.0-1]); a CONNACK is allowed only with a failure reason code >= 0x80 (5.0 §4.13.1).
   */
  | { readonly refused: true };

export interface FaultCase {
  /** What is sent, what should happen and the spec tag: the test name. */
  readonly name: string;
  /** Version of the valid CONNECT sent first, and the one used to decode the broker's replies. */
  readonly version: ProtocolVersion;
  /** Send a valid CONNECT and wait for CONNACK 0 first; default true. */
  readonly connectFirst?: boolean;
  /** The bad bytes. */
  readonly bytes: Buffer;
  readonly expect: Expectation;
  /** The close must come within this many ms of sending the bytes; default CLOSE_TIMEOUT_MS. */
  readonly closeWithinMs?: number;
}

export const CLOSE_TIMEOUT_MS = 2000;

export interface Target {
  readonly host: string;
  readonly port: number;
}

/** Opens a raw client and, unless told not to, completes a valid CONNECT/CONNACK. */
export async function openClient(target: Target, version: ProtocolVersion, clientId: string | undefined): Promise<RawClient> {
  const client = await RawClient.open({ host: target.host, port: target.port, version });
  if (clientId === undefined) return client;
  client.send(validConnect(version, clientId));
  const connack = await client.waitFor('connack', 2000);
  if (connack?.reasonCode !== 0) {
    client.destroy();
    assert.fail(`valid CONNECT v${version} was not accepted: ${client.describe()}`);
  }
  return client;
}

export async function runCase(target: Target, c: FaultCase, clientId: string): Promise<void> {
  const connectFirst = c.connectFirst ?? true;
  const client = await openClient(target, c.version, connectFirst ? clientId : undefined);
  try {
    const before = client.packets.length;
    const limit = c.closeWithinMs ?? CLOSE_TIMEOUT_MS;
    client.send(c.bytes);
    const closed = await client.waitClosed(limit);
    const sent = hex(c.bytes);
    assert.ok(closed, `broker did not close the connection within ${limit} ms after [${sent}]; ${client.describe()}`);
    assert.ok(client.closedByPeer, `the close did not come from the broker; ${client.describe()}`);
    assert.equal(client.parseError, undefined, `the broker sent bytes its own codec cannot decode; ${client.describe()}`);
    const after = client.packets.slice(before);
    const expect = c.expect;
    if ('disconnect' in expect) {
      assert.deepEqual(
        after.map((p) => (p.type === 'disconnect' ? `disconnect 0x${(p.reasonCode ?? 0).toString(16)}` : p.type)),
        [`disconnect 0x${expect.disconnect.toString(16)}`],
        `after [${sent}] expected DISCONNECT 0x${expect.disconnect.toString(16)} then close; ${client.describe()}`,
      );
    } else if ('silentClose' in expect) {
      assert.deepEqual(after, [], `after [${sent}] expected the close with nothing sent; ${client.describe()}`);
    } else if ('connack' in expect) {
      assert.deepEqual(
        after.map((p) => (p.type === 'connack' ? `connack ${p.reasonCode}` : p.type)),
        [`connack ${expect.connack}`],
        `after [${sent}] expected CONNACK ${expect.connack} then close; ${client.describe()}`,
      );
    } else {
      for (const p of after) {
        assert.ok(p.type === 'connack' && p.reasonCode >= 0x80, `after a bad CONNECT [${sent}] only a failing CONNACK may come back; ${client.describe()}`);
      }
      assert.ok(after.length <= 1, `more than one packet after a bad CONNECT [${sent}]; ${client.describe()}`);
    }
  } finally {
    client.destroy();
  }
}
