import { status, type ServiceError, Metadata } from "@grpc/grpc-js";

export { status as GrpcStatus } from "@grpc/grpc-js";

/**
 * An error meant for the caller: a gRPC status code and a message that says what to do.
 * `reason` is a stable machine-readable code ("invalid_model", "budget_exceeded").
 */
export class RpcError extends Error {
  readonly code: status;
  readonly reason: string;
  readonly retryAfterMs: number | undefined;

  constructor(code: status, message: string, reason = "", retryAfterMs?: number) {
    super(message);
    this.name = "RpcError";
    this.code = code;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }

  /** Turns a grpc-js client error back into an RpcError, keeping the reason trailer. */
  static fromServiceError(err: ServiceError): RpcError {
    const reason = String(err.metadata?.get("x-error-reason")[0] ?? "");
    const retry = Number(err.metadata?.get("x-retry-after-ms")[0] ?? Number.NaN);
    const message = err.details || err.message;
    return new RpcError(err.code, message, reason, Number.isFinite(retry) ? retry : undefined);
  }
}

/** True for errors from a grpc-js call (they carry a numeric code and details). */
export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as ServiceError).code === "number" &&
    "details" in err;
}

/** Builds the status a grpc-js handler sends for an error; unknown errors become INTERNAL. */
export function toStatusObject(err: unknown): Partial<ServiceError> {
  if (err instanceof RpcError) {
    const metadata = new Metadata();
    if (err.reason) metadata.set("x-error-reason", err.reason);
    if (err.retryAfterMs !== undefined) {
      metadata.set("x-retry-after-ms", String(err.retryAfterMs));
    }
    return { code: err.code, details: err.message, metadata };
  }

  if (isServiceError(err)) {
    return { code: err.code, details: err.details, metadata: err.metadata };
  }

  return { code: status.INTERNAL, details: "internal error; the request id is in the logs" };
}
