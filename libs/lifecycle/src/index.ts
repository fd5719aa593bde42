export {
  startProbeServer,
  type ExtraRoute,
  type ProbeServer,
  type ProbeServerOptions,
  type ReadinessCheck,
} from "./probes.js";
export { onShutdownSignal, type ShutdownStep } from "./shutdown.js";
