export { createGrpcClient, type CallOptions, type GrpcClient } from "./client.js";
export {
  GrpcStatus,
  isServiceError,
  RpcError,
  toStatusObject,
  type ErrorDetail,
} from "./errors.js";
export {
  registerService,
  startGrpcServer,
  type CallContext,
  type GrpcServerHandle,
  type GrpcServerOptions,
  type ServiceImpl,
  type ServiceRegistration,
} from "./server.js";
export { createHealthProbe, type HealthProbe } from "./health-client.js";
