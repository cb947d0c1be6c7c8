// A parsed BrokerConfig as the engine's BrokerOptions: the one mapping from config names and units
// (seconds, mosquitto.conf's 0 = unlimited, 'moat' | 'mosquitto' answers) to the engine's.
import type { Logger } from '../broker/logger.js';
import type { BrokerOptions } from '../broker/options.js';
import type { BrokerConfig } from '../config/types.js';

/**
 * Broker-wide options of `config`. Anonymous access is off broker-wide: every connection arrives
 * through a listener whose ListenerPolicy carries resolveSecurity's answer for it.
 */
export function brokerOptionsFromConfig(config: BrokerConfig, logger: Logger): BrokerOptions {
  return {
    maxKeepalive: config.maxKeepalive,
    maxTopicLevels: config.maxTopicLevels,
    publisherFlowControl: config.publisherFlowControl,
    maxPacketSize: config.maxPacketSize,
    messageSizeLimit: config.messageSizeLimit,
    retainAvailable: config.retainAvailable,
    persistentClientExpiration: config.persistentClientExpiration,
    // 0 means no limit in mosquitto.conf; the protocol's own ceiling is 65535.
    maxInflightMessages: config.maxInflightMessages === 0 ? 65535 : config.maxInflightMessages,
    // 0 means no limit in mosquitto.conf, not "queue nothing".
    maxQueuedMessages: config.maxQueuedMessages === 0 ? Number.MAX_SAFE_INTEGER : config.maxQueuedMessages,
    queueQos0Messages: config.queueQos0Messages,
    clientIdPrefix: config.clientidPrefixes,
    maxQueuedBytes: config.maxQueuedBytes,
    maxInflightBytes: config.maxInflightBytes,
    upgradeOutgoingQos: config.upgradeOutgoingQos,
    checkRetainSource: config.checkRetainSource,
    badPasswordAsNotAuthorized: config.badPasswordAnswer === 'mosquitto',
    grantDeniedSubscriptions: config.aclDeniedSubscribe === 'mosquitto',
    connectionMessages: config.log.connectionMessages,
    allowZeroLengthClientId: config.allowZeroLengthClientId,
    autoIdPrefix: config.autoIdPrefix,
    connectTimeoutMs: config.connectTimeout * 1000,
    allowAnonymous: false,
    authFailureLimit: config.authFailureLimit,
    authBanMs: config.authBanTime * 1000,
    globalMaxConnections: config.globalMaxConnections,
    maxConnectionRate: config.maxConnectionRate,
    maxConnectionRatePerAddress: config.maxConnectionRatePerAddress,
    memoryLimit: config.memoryLimit,
    maxSubscriptionsPerClient: config.maxSubscriptionsPerClient,
    maxTopicLength: config.maxTopicLength,
    overloadProtection: config.overloadProtection,
    maxEventLoopLagMs: config.maxEventLoopLag,
    logger,
  };
}
