// A hostile client in its own process, so its write loop cannot slow the test's own measurements:
// connects, waits for CONNACK, stops reading its socket for good, then floods for DURATION_MS.
// Usage: node flooder.js HOST PORT KIND DURATION_MS, KIND = pingreq | publish | resubscribe.
// Prints {"written": bytes} on stdout when done, then exits.
import { connect } from 'node:net';
import { encode } from '../../src/codec/encode.js';
import { validConnect } from './raw-client.js';

const [host = '127.0.0.1', port = '1883', kind = 'pingreq', durationMs = '3000'] = process.argv.slice(2);

/** ~32 KB of the flood's packets, pre-encoded so the loop only writes. */
function batch(): Buffer {
  const packets: Buffer[] = [];
  let size = 0;
  for (let id = 1; size < 32 * 1024; id++) {
    const packet =
      kind === 'pingreq'
        ? Buffer.from([0xc0, 0x00])
        : kind === 'publish'
          ? encode({ type: 'publish', topic: 'flood/x', payload: Buffer.alloc(64), qos: 1, retain: false, dup: false, packetId: id }, 4)
          : encode({ type: 'subscribe', packetId: id, subscriptions: [{ filter: 'big/#', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 4);
    packets.push(packet);
    size += packet.length;
  }
  return Buffer.concat(packets);
}

const chunk = batch();
const socket = connect({ host, port: Number(port) });
socket.on('error', () => {});
socket.once('connect', () => socket.write(validConnect(4, `flooder-${kind}-${process.pid}`)));
socket.once('data', () => {
  socket.pause();
  const until = Date.now() + Number(durationMs);
  const pump = (): void => {
    while (Date.now() < until && !socket.destroyed) {
      if (!socket.write(chunk)) {
        socket.once('drain', pump);
        return;
      }
    }
    finish();
  };
  const timer = setTimeout(finish, Number(durationMs));
  function finish(): void {
    clearTimeout(timer);
    process.stdout.write(`${JSON.stringify({ written: socket.bytesWritten })}\n`);
    socket.destroy();
    process.exit(0);
  }
  pump();
});
