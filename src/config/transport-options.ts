// mosquitto.conf options about how listeners bind and read: socket_domain and bind_interface
// (per listener), websockets_headers_size (every WebSocket listener).
import { CONFIG_ISSUE_KINDS } from './errors.js';
import { global, oneOf, setListener, single, wholeNumber, type OptionSpec } from './option-kit.js';
import { SOCKET_DOMAINS } from './types.js';

export const TRANSPORT_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  socket_domain: {
    scope: 'listener',
    example: 'ipv4',
    apply: (ctx) => {
      const value = oneOf(ctx, SOCKET_DOMAINS, 'ipv4');
      if (value !== undefined) setListener(ctx, (l) => (l.socketDomain = value));
    },
  },
  bind_interface: {
    scope: 'listener',
    example: 'eth0',
    apply: (ctx) => {
      const value = single(ctx, 'eth0');
      if (value === undefined) return;
      // Linux interface names: at most 15 bytes, no '/', no whitespace.
      if (!/^[^\s/]{1,15}$/.test(value)) {
        ctx.error(CONFIG_ISSUE_KINDS.invalidValue, `bind_interface expects a network interface name, got "${value}"`, 'write e.g. "bind_interface eth0".');
        return;
      }
      setListener(ctx, (l) => (l.bindInterface = value));
    },
  },
  websockets_headers_size: {
    scope: 'global',
    example: '4096',
    // libwebsockets keeps the size in 16 bits; 0 leaves the limit to the HTTP server (Node: 16 KB).
    apply: global('websocketsHeadersSize', (ctx) => wholeNumber(ctx, 0, 65535, '4096', 'a whole number of bytes 0-65535 (0 = the default)')),
  },
};
