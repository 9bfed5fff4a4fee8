// Public entry for embedding the relay in another program.
export { start, type Relay, type StartDeps, type Extensions, type ExtensionContext } from './app.js';
export { buildExtensions } from './extensions.js';
export { loadConfig, parseYaml, type LoadOptions } from './config/load.js';
export { configSchema, parseConfig, defaultConfig, type Config, type ConfigInput } from './config/schema.js';
export { ExitCode, RelayError, ConfigError, NativeBindingError, ListenError } from './errors.js';
export { createLogger, type Logger } from './logger.js';
export { CloseCode, DISCONNECT_REASONS, type DisconnectReason } from './relay/protocol.js';
export type { Admission, AdmissionVerdict, Backplane, MessageLimiter, SocketData, UpgradeInfo } from './relay/hub.js';
