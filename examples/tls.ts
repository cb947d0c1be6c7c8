// MQTT over TLS: connect with mqtts://, trusting the CA that signed the broker's certificate.
//   npx tsx examples/tls.ts mqtts://127.0.0.1:8883 ./ca.pem
// or with MOAT_URL and MOAT_CA in the environment. The client takes PEM contents, not paths: read the file.
import { readFileSync } from 'node:fs';
import { connect } from '../src/client/index.js';

const url = process.argv[2] ?? process.env['MOAT_URL'] ?? 'mqtts://127.0.0.1:8883';
const caFile = process.argv[3] ?? process.env['MOAT_CA'];
if (caFile === undefined) {
  console.error('usage: tsx examples/tls.ts [mqtts://host:port] CA_FILE   (or set MOAT_URL and MOAT_CA)');
  process.exitCode = 2;
} else {
  const client = await connect(url, { tls: { ca: readFileSync(caFile, 'utf8') } });
  const messages = client.messages('demo/tls'); // buffers from now on, so nothing is missed
  await client.subscribe('demo/tls', { qos: 1 });
  await client.publish('demo/tls', 'hello over TLS', { qos: 1 });
  for await (const { topic, payload } of messages) {
    console.log(`${topic}: ${payload.toString()}`);
    break;
  }
  await client.end();
}
