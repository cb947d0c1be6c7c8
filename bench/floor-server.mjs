// Not a broker: the floor of what a Node.js MQTT broker can spend per idle connection. A bare
// net.createServer (Nagle off, as the brokers) that answers a client's first bytes with one 3.1.1
// CONNACK (accepted) and then only holds the socket, reading and dropping whatever comes. Listeners
// are shared functions, so the per-socket cost is Node's own: the net.Socket, its libuv handle, its
// stream state. `npm run bench -- --only idle-connections --brokers moat,mosquitto,node-floor`.
// Usage: node bench/floor-server.mjs <port>
import { createServer } from 'node:net';

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const ANSWERED = Symbol('answered');

function onData() {
  if (this[ANSWERED] === true) return;
  this[ANSWERED] = true;
  this.write(CONNACK);
}
function ignore() {}

const server = createServer({ noDelay: true }, (socket) => {
  socket.on('data', onData);
  socket.on('error', ignore);
});
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ event: 'listening', protocol: 'mqtt', host: '127.0.0.1', port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
