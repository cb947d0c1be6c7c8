// The test kit: launchers for brokers and real clients. Import from here or from the single files.
export type { BrokerStartOptions, RunningBroker } from './broker.js';
export { brokerArgs, runMosquittoPub, runMosquittoSub, startMosquittoSub } from './clients.js';
export type { MosquittoSub, ProcessOutput } from './clients.js';
export { DEFAULT_MOAT_CONFIG, moatCommand, moatListener, startMoat } from './moat.js';
export type { MoatListener, RunningMoat, StartMoatOptions } from './moat.js';
export { MOSQUITTO_BINARY, startMosquitto } from './mosquitto.js';
export type { StartMosquittoOptions } from './mosquitto.js';
export { repoRoot, runningFromBuild, sourcePath } from './paths.js';
export { freePort } from './ports.js';
export { spawnTracked } from './process.js';
export type { ExitResult, TrackedProcess } from './process.js';
export { brokerTargets } from './targets.js';
export type { BrokerTarget } from './targets.js';
export { connectMqttJs } from './mqttjs.js';
export type { ConnectedClient, ReceivedMessage } from './mqttjs.js';
export { makeClientCertificate, makeTestCertificates } from './certs.js';
export type { TlsFiles } from './certs.js';
export { until } from './wait.js';
