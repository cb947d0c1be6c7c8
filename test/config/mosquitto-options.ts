// Every option name of Mosquitto 2.0.11 (Debian's package on this machine), for the test that walks
// docs/CONFIG.md's table. MAN_PAGE: each option the man page describes, as listed by
//   zcat /usr/share/man/man5/mosquitto.conf.5.gz | grep -A1 '^\.PP$'
// (the heading lines), `ciphers_tls1.3` and `addresses` included (their headings are escaped or
// shared), plus `clientid`, `password` and `username`, which the bridge section says "remain valid".
// UNDOCUMENTED: names /usr/sbin/mosquitto 2.0.11 accepts that the man page does not describe (found
// by starting it with each string of its binary that looks like an option; other names are
// "Unknown configuration variable").

export const MAN_PAGE_OPTIONS: readonly string[] = [
  // general
  'acl_file', 'allow_anonymous', 'allow_duplicate_messages', 'allow_zero_length_clientid', 'auth_opt_*', 'auth_plugin',
  'auth_plugin_deny_special_chars', 'auto_id_prefix', 'autosave_interval', 'autosave_on_changes', 'check_retain_source',
  'clientid_prefixes', 'connection_messages', 'include_dir', 'log_dest', 'log_facility', 'log_timestamp',
  'log_timestamp_format', 'log_type', 'max_inflight_bytes', 'max_inflight_messages', 'max_keepalive', 'max_packet_size',
  'max_queued_bytes', 'max_queued_messages', 'memory_limit', 'message_size_limit', 'password_file', 'per_listener_settings',
  'persistence', 'persistence_file', 'persistence_location', 'persistent_client_expiration', 'pid_file', 'psk_file',
  'queue_qos0_messages', 'retain_available', 'set_tcp_nodelay', 'sys_interval', 'upgrade_outgoing_qos', 'user',
  // listeners
  'bind_address', 'bind_interface', 'http_dir', 'listener', 'max_connections', 'max_qos', 'max_topic_alias', 'mount_point',
  'port', 'protocol', 'socket_domain', 'use_username_as_clientid', 'websockets_log_level', 'websockets_headers_size',
  // certificate-based TLS
  'cafile', 'capath', 'certfile', 'ciphers', 'ciphers_tls1.3', 'crlfile', 'dhparamfile', 'keyfile', 'require_certificate',
  'tls_engine', 'tls_engine_kpass_sha1', 'tls_keyform', 'tls_version', 'use_identity_as_username', 'use_subject_as_username',
  // pre-shared-key TLS
  'psk_hint',
  // bridges
  'address', 'addresses', 'bridge_attempt_unsubscribe', 'bridge_bind_address', 'bridge_max_packet_size', 'bridge_outgoing_retain',
  'bridge_protocol_version', 'cleansession', 'local_cleansession', 'connection', 'keepalive_interval', 'idle_timeout',
  'local_clientid', 'local_password', 'local_username', 'notifications', 'notifications_local_only', 'notification_topic',
  'remote_clientid', 'remote_password', 'remote_username', 'restart_timeout', 'round_robin', 'start_type', 'threshold', 'topic',
  'try_private', 'bridge_alpn', 'bridge_cafile', 'bridge_capath', 'bridge_certfile', 'bridge_identity', 'bridge_insecure',
  'bridge_keyfile', 'bridge_psk', 'bridge_require_ocsp', 'bridge_tls_version',
  // the bridge options' old names
  'clientid', 'password', 'username',
];

export const UNDOCUMENTED_OPTIONS: readonly string[] = ['maximum_qos', 'plugin', 'plugin_opt_*', 'retained_persistence', 'retry_interval'];
