// Quick start: with a broker on 127.0.0.1:1883 (`npx moat broker`), run `npx tsx examples/quickstart.ts`.
import { connect } from '../src/client/index.js';

const client = await connect('mqtt://127.0.0.1:1883');
const messages = client.messages('sensors/#'); // buffers from now on, so nothing is missed
await client.subscribe('sensors/#', { qos: 1 });
await client.publish('sensors/room1/temp', '21.5', { qos: 1 });
for await (const { topic, payload } of messages) {
  console.log(`${topic}: ${payload.toString()}`);
  break; // one message is enough for a demo; leave the loop out to keep listening
}
await client.end();
