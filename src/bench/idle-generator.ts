// Child-process entry of the idle-connections scenario: one generator process opens `count` idle
// MQTT connections from its own loopback source address and holds them until told to stop. A
// process, not a worker thread: open files are limited per process (20,000 here), and a source
// address per process gives each its own ephemeral port range. Each connection is a bare socket that
// sends CONNECT (clean, keep alive 0) and reads the 4-byte CONNACK, so the generator stays far
// lighter than the broker it measures. Talks to the parent over the IPC channel:
//   parent → child: {type:'go'}, {type:'stop'}
//   child → parent: {type:'ready'}, {type:'progress', ...Counts}, {type:'connected', ...Counts, connectMs},
//                   {type:'stopped', stillOpen}
import { connect, type Socket } from 'node:net';
import { encode } from '../codec/encode.js';
import { MoatError } from '../codec/errors.js';

export interface IdleGeneratorParams {
  host: string;
  port: number;
  /** Source address this process binds, e.g. 127.0.0.2. */
  localAddress: string;
  protocol: 4 | 5;
  count: number;
  /** Connects (TCP + CONNECT/CONNACK) in flight at once from this process. */
  concurrency: number;
  clientPrefix: string;
  /** Per connection: no CONNACK within this long counts as failed. */
  timeoutMs: number;
}

export interface IdleCounts {
  connected: number;
  /** CONNACK with a non-zero return code (the broker said no). */
  refused: number;
  /** No CONNACK: connection refused, reset, closed or timed out. */
  failed: number;
  firstError: string | undefined;
}

export type IdleParentMessage = { type: 'go' } | { type: 'stop' };
export type IdleChildMessage =
  | { type: 'ready' }
  | ({ type: 'progress' } & IdleCounts)
  | ({ type: 'connected'; connectMs: number } & IdleCounts)
  | { type: 'stopped'; stillOpen: number };

const send = (m: IdleChildMessage): void => {
  process.send?.(m);
};

/** Opens one connection; resolves with the socket after CONNACK 0, rejects otherwise. */
function openOne(p: IdleGeneratorParams, i: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: p.host, port: p.port, localAddress: p.localAddress, noDelay: true });
    let got = Buffer.alloc(0);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new MoatError('MOAT_ERR_BENCH_TIMEOUT', `no CONNACK within ${p.timeoutMs} ms`)), p.timeoutMs);
    socket.once('connect', () => {
      socket.write(encode({ type: 'connect', protocolName: 'MQTT', protocolVersion: p.protocol, clean: true, keepalive: 0, clientId: `${p.clientPrefix}-${i}` }, p.protocol));
    });
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 4) return;
      socket.off('data', onData);
      clearTimeout(timer);
      // 3.1.1 CONNACK: 0x20 0x02 flags rc; v5: 0x20 len flags rc props.
      if (got[0] !== 0x20) return fail(new MoatError('MOAT_ERR_BENCH_CONNECTION', `expected CONNACK, got packet type ${(got[0] ?? 0) >> 4}`));
      const code = got[3] ?? 0xff;
      if (code !== 0) {
        const error = new MoatError('MOAT_ERR_BENCH_CONNECTION', `CONNACK return code ${code}`) as MoatError & { refused?: boolean };
        error.refused = true;
        socket.destroy();
        reject(error);
        return;
      }
      // Idle from now on: nothing is read, and a close by the broker is seen as socket.destroyed.
      socket.removeAllListeners('error');
      socket.on('error', () => undefined);
      resolve(socket);
    };
    socket.on('data', onData);
    socket.on('error', fail);
    socket.on('close', () => fail(new MoatError('MOAT_ERR_BENCH_CONNECTION', 'closed by the broker before CONNACK')));
  });
}

async function main(p: IdleGeneratorParams): Promise<void> {
  const sockets: Socket[] = [];
  const counts: IdleCounts = { connected: 0, refused: 0, failed: 0, firstError: undefined };
  let stopped = false;
  let onGo: () => void = () => undefined;
  const go = new Promise<void>((resolve) => (onGo = resolve));
  let onStop: () => void = () => undefined;
  const stop = new Promise<void>((resolve) => (onStop = resolve));
  process.on('message', (m: IdleParentMessage) => {
    if (m.type === 'go') onGo();
    if (m.type === 'stop') {
      stopped = true;
      onGo();
      onStop();
    }
  });
  // The parent going away must not leave 4,750 sockets open.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
  await go;
  const progress = setInterval(() => send({ type: 'progress', ...counts }), 250);
  const started = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < p.count && !stopped) {
      const i = next++;
      try {
        sockets.push(await openOne(p, i));
        counts.connected++;
      } catch (error) {
        if ((error as { refused?: boolean }).refused === true) counts.refused++;
        else counts.failed++;
        counts.firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(p.concurrency, p.count) }, lane));
  clearInterval(progress);
  send({ type: 'connected', ...counts, connectMs: performance.now() - started });
  await stop;
  const stillOpen = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
  // RST, not FIN: a FIN would leave 4,750 client ports of this address in TIME_WAIT for a minute,
  // and the next run's bind() to the same address would crawl through them looking for a free port.
  for (const s of sockets) s.resetAndDestroy();
  send({ type: 'stopped', stillOpen });
  process.disconnect?.();
}

const params = JSON.parse(process.argv[2] ?? '{}') as IdleGeneratorParams;
void main(params).catch((error: unknown) => {
  process.stderr.write(`idle generator: ${String(error)}\n`);
  process.exit(1);
});
