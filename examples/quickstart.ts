// Quick start: run a broker on 127.0.0.1:1883 (`npx moat broker`), then `npx tsx examples/quickstart.ts`.
import { connect } from '../src/client/index.js';

const client = await connect('mqtt://127.0.0.1:1883');
client.onMessage((message) => console.log(`${message.topic}: ${message.payload.toString()}`));
await client.subscribe('sensors/#', { qos: 1 });
await client.publish('sensors/room1/temp', '21.5', { qos: 1 });
await new Promise((resolve) => setTimeout(resolve, 100)); // let the message come back
await client.end();
