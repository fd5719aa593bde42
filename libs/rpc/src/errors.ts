import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
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
  /** google.rpc error details (e.g. RetryInfo), sent in grpc-status-details-bin. */
  details: ErrorDetail[] = [];
  /** Extra trailers for the caller, e.g. rate-limit state. */
  trailers: Record<string, string> = {};

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
    const rpc = new RpcError(err.code, message, reason, Number.isFinite(retry) ? retry : undefined);
    for (const [key, value] of Object.entries(err.metadata?.getMap() ?? {})) {
      if (typeof value === "string") rpc.trailers[key] = value;
      else if (key === "grpc-status-details-bin") rpc.trailers[key] = value.toString("base64");
    }
    return rpc;
  }
}

/** An error detail: the detail message's type name and its bytes. */
export interface ErrorDetail {
  type: string;
  value: Uint8Array;
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
    for (const [key, value] of Object.entries(err.trailers)) metadata.set(key, value);
    if (err.details.length > 0) {
      metadata.set("grpc-status-details-bin", statusDetailsBin(err));
    }
    return { code: err.code, details: err.message, metadata };
  }

  if (isServiceError(err)) {
    return { code: err.code, details: err.details, metadata: err.metadata };
  }

  return { code: status.INTERNAL, details: "internal error; the request id is in the logs" };
}

/**
 * google.rpc.Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details
 * = 3; } with each Any { string type_url = 1; bytes value = 2; }, encoded by hand because the
 * google.rpc types are not among the generated contracts.
 */
function statusDetailsBin(err: RpcError): Buffer {
  const writer = new BinaryWriter();
  writer.tag(1, WireType.Varint).int32(err.code);
  writer.tag(2, WireType.LengthDelimited).string(err.message);
  for (const detail of err.details) {
    const any = new BinaryWriter();
    any.tag(1, WireType.LengthDelimited).string(`type.googleapis.com/${detail.type}`);
    any.tag(2, WireType.LengthDelimited).bytes(detail.value);
    writer.tag(3, WireType.LengthDelimited).bytes(any.finish());
  }
  return Buffer.from(writer.finish());
}
