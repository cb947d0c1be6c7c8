// Public API of the config module: read mosquitto.conf into a resolved, readonly BrokerConfig.

export { ConfigError, CONFIG_ISSUE_KINDS } from './errors.js';
export type { ConfigIssue, ConfigIssueKind } from './errors.js';
export { NEVER_SUPPORTED, NEVER_SUPPORTED_PREFIXES, NEVER_SUPPORTED_VALUES } from './never.js';
export type { NeverReason } from './never.js';
export { NOT_YET_SUPPORTED, NOT_YET_SUPPORTED_VALUES, PLANNED_AREAS } from './not-supported.js';
export type { PlannedArea } from './not-supported.js';
export { compareIncludeNames } from './include-dir.js';
export type { ConfigFileText, IncludeDirResult } from './include-dir.js';
export { defaultConfig, KNOWN_OPTIONS, loadConfig, parseConfig } from './parse.js';
export type { ParseConfigOptions } from './parse.js';
export { describeListener, isLoopbackHost, resolveSecurity } from './security.js';
export type { ListenerSecurity } from './security.js';
export { CONFIG_DEFAULTS, LISTENER_PROTOCOLS, LOG_DESTINATIONS, LOG_TYPES } from './types.js';
export type {
  AdminConfig,
  BrokerConfig,
  ConfigSource,
  ConfigWarning,
  ListenerConfig,
  ListenerProtocol,
  ListenerTlsConfig,
  LogConfig,
  LogDestination,
  LogType,
} from './types.js';
