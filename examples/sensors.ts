// The chapter's paho pattern with moat: on_connect subscribes, on_message prints, and the client
// keeps running and reconnects by itself (back-off with jitter; onConnect fires again after each
// reconnect, so the subscription is renewed even if the broker lost the session).
//   npx tsx examples/sensors.ts [mqtt://127.0.0.1:1883]
import { connect, type ConnackPacket, type MqttClient, type ReceivedMessage } from '../src/client/index.js';

function onConnect(connack: ConnackPacket, client: MqttClient): void {
  console.log(`Connected successfully (session present: ${connack.sessionPresent})`);
  client.subscribe('sensors/#', { qos: 1 }).catch((error: Error) => console.error(`subscribe failed: ${error.message}`));
}

function onMessage(message: ReceivedMessage): void {
  console.log(`Topic: ${message.topic}, Payload: ${message.payload.toString()}`);
}

try {
  await connect(process.argv[2] ?? 'mqtt://127.0.0.1:1883', { keepalive: 60, onConnect, onMessage });
} catch (error) {
  // A refusal says which reason code, what it means and what to do, from the one reason-code table.
  console.error(`Connection failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
