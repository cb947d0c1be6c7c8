import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';

/** One PUBLISH received by an MQTT.js client. */
export interface ReceivedMessage {
  readonly topic: string;
  readonly payload: string;
  readonly packet: IPublishPacket;
}

/** An MQTT.js client that is connected, with every received message recorded from the first packet on. */
export interface ConnectedClient {
  readonly client: MqttClient;
  readonly connack: IConnackPacket;
  readonly messages: ReceivedMessage[];
  /**
   * Resolves with the messages so far once `done(messages)` is true (or there are `done` messages);
   * rejects after timeoutMs (default 5000) listing what did arrive.
   */
  waitForMessages(done: number | ((messages: readonly ReceivedMessage[]) => boolean), timeoutMs?: number): Promise<ReceivedMessage[]>;
  /** Clean DISCONNECT, then close. */
  end(): Promise<void>;
  /** Drop the TCP connection without DISCONNECT (the will is published, the session stays). */
  drop(): Promise<void>;
}

/**
 * Connects MQTT.js (MQTT 5 unless options say otherwise, no automatic reconnect) to the broker and
 * resolves after CONNACK. The message listener is attached before CONNECT is sent, so messages a
 * resumed session delivers right after CONNACK are not lost.
 */
export function connectMqttJs(
  broker: { readonly host: string; readonly port: number },
  options: IClientOptions = {},
  timeoutMs = 5000,
): Promise<ConnectedClient> {
  const client = mqtt.connect({
    host: broker.host,
    port: broker.port,
    protocol: 'mqtt',
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    ...options,
  });
  const messages: ReceivedMessage[] = [];
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString('utf8'), packet });
    for (const waiter of [...waiters]) waiter();
  });

  const describe = (): string =>
    messages.map((m) => `  ${m.topic} ${JSON.stringify(m.payload)} qos=${m.packet.qos}`).join('\n') || '  (none)';

  const connected: ConnectedClient = {
    client,
    connack: undefined as unknown as IConnackPacket,
    messages,
    waitForMessages(done, waitMs = 5000) {
      const isDone = typeof done === 'number' ? (m: readonly ReceivedMessage[]) => m.length >= done : done;
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!isDone(messages)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve([...messages]);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `MQTT.js client ${client.options.clientId}: timed out after ${waitMs} ms waiting for ${
                typeof done === 'number' ? `${done} messages` : 'the expected messages'
              }; received ${messages.length}:\n${describe()}`,
            ),
          );
        }, waitMs);
        waiters.add(check);
        check();
      });
    },
    end() {
      return new Promise((resolve) => {
        if (client.disconnected || !client.connected) {
          client.end(true, {}, () => resolve());
          return;
        }
        client.end(false, {}, () => resolve());
      });
    },
    drop() {
      return new Promise((resolve) => client.end(true, {}, () => resolve()));
    },
  };

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      client.end(true);
      reject(new Error(`MQTT.js: no CONNACK from ${broker.host}:${broker.port} within ${timeoutMs} ms`));
    }, timeoutMs + 500);
    const onConnect = (connack: IConnackPacket): void => {
      cleanup();
      resolve({ ...connected, connack });
    };
    const onError = (err: Error): void => {
      cleanup();
      client.end(true);
      reject(new Error(`MQTT.js could not connect to ${broker.host}:${broker.port}: ${err.message}`, { cause: err }));
    };
    const onClose = (): void => onError(new Error('connection closed before CONNACK'));
    const cleanup = (): void => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
    };
    client.once('connect', onConnect);
    client.once('error', onError);
    client.once('close', onClose);
  });
}
