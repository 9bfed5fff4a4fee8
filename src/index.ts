// Public entry for embedding the relay in another program: start it, load or parse its config, its errors and
// wire codes, and the plug-in contracts. Everything else is internal.
export { start, type Relay, type StartDeps } from './app.js';
export { buildExtensions } from './extensions.js';
export { loadConfig, parseYaml, type LoadOptions } from './config/load.js';
export { configSchema, parseConfig, defaultConfig, type Config, type ConfigInput } from './config/schema.js';
export { ErrorCode, ExitCode, RelayError, ConfigError, NativeBindingError, ListenError } from './errors.js';
export { createLogger, type Logger } from './logger.js';
export type { ReloadResult, ReloadTrigger } from './reload/reloader.js';
export {
  CloseCode,
  DISCONNECT_REASONS,
  UPGRADE_REJECT_REASONS,
  type DisconnectReason,
  type RejectReason,
  type AdmissionRejectReason,
  type PluginCloseReason,
} from './relay/protocol.js';
export type {
  Admission,
  AdmissionVerdict,
  Backplane,
  Deliver,
  DropReason,
  EndSocket,
  ExtensionContext,
  ExtensionFactory,
  Extensions,
  LimitDecision,
  MessageLimiter,
  PreparedChange,
  ReadinessGate,
  ReloadStep,
  ShutdownSteps,
  SocketRef,
  UpgradeInfo,
} from './contracts.js';
