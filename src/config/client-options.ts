// mosquitto.conf options about client ids and what clients are sent: clientid_prefixes,
// use_username_as_clientid, queue_qos0_messages, and the two Mosquitto 2.0 keeps only for old
// configs (allow_duplicate_messages, retry_interval), which moat reads the same way.
import { bool, global, setListener, single, type OptionSpec } from './option-kit.js';

export const CLIENT_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  clientid_prefixes: {
    scope: 'global',
    example: 'secure-',
    apply: (ctx) => {
      const value = single(ctx, 'secure-');
      if (value === undefined) return;
      ctx.warn(
        `clientid_prefixes is deprecated since Mosquitto 2.0; moat still refuses client ids that do not start with "${value}" ` +
          '(CONNACK 0x87 Not authorized, 3.1.1: 5). Fix: give each client a user name and restrict it with acl_file.',
      );
      ctx.draft.values.clientidPrefixes = value;
    },
  },
  use_username_as_clientid: {
    scope: 'listener',
    example: 'true',
    apply: (ctx) => {
      const value = bool(ctx, 'true');
      if (value !== undefined) setListener(ctx, (l) => (l.useUsernameAsClientid = value));
    },
  },
  queue_qos0_messages: {
    scope: 'global',
    example: 'true',
    apply: global('queueQos0Messages', (ctx) => bool(ctx, 'true')),
  },
  // Mosquitto 2.0.11 still reads it: true (its default) sends a message once per matching subscription,
  // false once per client. moat always sends it once per client, at the highest QoS granted.
  allow_duplicate_messages: {
    scope: 'global',
    example: 'false',
    apply: (ctx) => {
      const value = bool(ctx, 'false');
      if (value === undefined) return;
      ctx.warn(
        value
          ? 'allow_duplicate_messages true: unlike Mosquitto, moat does not send a client one copy per matching subscription; ' +
              'it sends each message once per client, at the highest QoS its matching subscriptions grant. ' +
              'Fix: remove the line (the option is deprecated since Mosquitto 2.0).'
          : 'allow_duplicate_messages is deprecated since Mosquitto 2.0; moat always sends each message once per client, ' +
              'as "false" asks. Fix: remove the line.',
      );
    },
  },
  // Mosquitto 2.0 prints "The retry_interval option is no longer available" and goes on.
  retry_interval: {
    scope: 'global',
    example: '20',
    // Mosquitto does not read the value either.
    apply: (ctx) => {
      ctx.warn(
        'retry_interval has no effect since Mosquitto 2.0, in moat either: unacknowledged QoS 1/2 messages are sent again ' +
          'when the client reconnects, as MQTT 3.1.1 and 5 require. Fix: remove the line.',
      );
    },
  },
};
