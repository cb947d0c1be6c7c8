// mosquitto.conf options moat recognises but does not implement yet. Each one is an error (never silently
// ignored), naming the area of moat that will implement it. When an area lands, its issue moves the lines
// from this table into options.ts. Options moat will never implement are in never.ts.

/** Areas that will implement the options below: the label shown in errors and what to do until then. */
export const PLANNED_AREAS = {
  auth: {
    label: 'authentication: password/ACL/PSK files',
    hint: 'keep this broker on a private network with "allow_anonymous true" until then',
  },
  tls: {
    label: 'TLS listeners',
    hint: 'terminate TLS in front of moat (nginx, HAProxy or stunnel) until then',
  },
  limits: {
    label: 'capacity, limits and monitoring',
    hint: 'rely on the other limits (max_queued_messages, max_queued_bytes, max_connections) and $SYS until then',
  },
  broker: {
    label: 'broker behaviour',
    hint: 'accept moat\'s standard MQTT behaviour for it until then',
  },
  dashboard: {
    label: 'dashboard and admin HTTP',
    hint: 'serve the files from a web server next to moat until then',
  },
  bridge: {
    label: 'bridges',
    hint: 'keep the bridge on a mosquitto instance next to moat until then',
  },
} as const;
export type PlannedArea = keyof typeof PLANNED_AREAS;

/** Option name → area that will implement it. */
export const NOT_YET_SUPPORTED: Readonly<Record<string, PlannedArea>> = {
  // a websockets listener serving files
  http_dir: 'dashboard',
  // bridges
  connection: 'bridge',
  address: 'bridge',
  addresses: 'bridge',
  topic: 'bridge',
  bridge_alpn: 'bridge',
  bridge_attempt_unsubscribe: 'bridge',
  bridge_bind_address: 'bridge',
  bridge_cafile: 'bridge',
  bridge_capath: 'bridge',
  bridge_certfile: 'bridge',
  bridge_identity: 'bridge',
  bridge_insecure: 'bridge',
  bridge_keyfile: 'bridge',
  bridge_max_packet_size: 'bridge',
  bridge_outgoing_retain: 'bridge',
  bridge_protocol_version: 'bridge',
  bridge_psk: 'bridge',
  bridge_require_ocsp: 'bridge',
  bridge_tls_version: 'bridge',
  cleansession: 'bridge',
  local_cleansession: 'bridge',
  clientid: 'bridge',
  remote_clientid: 'bridge',
  local_clientid: 'bridge',
  username: 'bridge',
  remote_username: 'bridge',
  password: 'bridge',
  remote_password: 'bridge',
  local_username: 'bridge',
  local_password: 'bridge',
  notifications: 'bridge',
  notifications_local_only: 'bridge',
  notification_topic: 'bridge',
  keepalive_interval: 'bridge',
  idle_timeout: 'bridge',
  restart_timeout: 'bridge',
  round_robin: 'bridge',
  start_type: 'bridge',
  threshold: 'bridge',
  try_private: 'bridge',
};

/** Values of implemented options that are not supported yet: `option value` → area. */
export const NOT_YET_SUPPORTED_VALUES: Readonly<Record<string, PlannedArea>> = {
};

/** The planned area for `option value`, if that value of an implemented option is not supported yet. */
export function plannedAreaOfValue(option: string, value: string): PlannedArea | undefined {
  const key = `${option} ${value}`;
  return Object.hasOwn(NOT_YET_SUPPORTED_VALUES, key) ? NOT_YET_SUPPORTED_VALUES[key] : undefined;
}

/** The planned area for an option name, if it is a known-but-unimplemented mosquitto option. */
export function plannedAreaOf(option: string): PlannedArea | undefined {
  return Object.hasOwn(NOT_YET_SUPPORTED, option) ? NOT_YET_SUPPORTED[option] : undefined;
}

/** "X is not yet supported by moat (planned: <area>); remove the line or <hint>." */
export function notYetSupportedMessage(what: string, area: PlannedArea): string {
  const { label, hint } = PLANNED_AREAS[area];
  return `${what} is not yet supported by moat (planned: ${label}); remove the line or ${hint}.`;
}
