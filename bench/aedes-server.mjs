// A plain Aedes broker for the comparison run (npm run bench): MQTT 3.1.1 over TCP on
// 127.0.0.1:<port>, optionally TLS on a second port. Prints one JSON "listening" line per listener.
// Usage: node bench/aedes-server.mjs <port> [--tls <port> <certfile> <keyfile>]
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes } from 'aedes';

const port = Number(process.argv[2] ?? 0);
const broker = await Aedes.createBroker();

function announce(server, protocol) {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ event: 'listening', protocol, host: '127.0.0.1', port: address.port })}\n`);
}

// Same as the other brokers' set_tcp_nodelay true: no Nagle delay on small messages.
const server = createServer({ noDelay: true }, broker.handle);
server.listen(port, '127.0.0.1', () => announce(server, 'mqtt'));

const tlsAt = process.argv.indexOf('--tls');
if (tlsAt > 0) {
  const [tlsPort, cert, key] = process.argv.slice(tlsAt + 1, tlsAt + 4);
  const tlsServer = createTlsServer({ cert: readFileSync(cert), key: readFileSync(key), minVersion: 'TLSv1.2' }, (socket) => {
    socket.setNoDelay(true);
    broker.handle(socket);
  });
  tlsServer.listen(Number(tlsPort), '127.0.0.1', () => announce(tlsServer, 'mqtts'));
}

const stop = () => {
  server.close();
  broker.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
