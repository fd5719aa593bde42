export {
  startProbeServer,
  type ExtraRoute,
  type ProbeServer,
  type ProbeServerOptions,
  type ReadinessCheck,
} from "./probes.js";
export { exitWithParent, onShutdownSignal, type ShutdownStep } from "./shutdown.js";
