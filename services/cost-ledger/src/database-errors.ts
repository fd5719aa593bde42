import { GrpcStatus, RpcError } from "@mesh/rpc";

// Socket failures reaching Postgres.
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

// SQLSTATEs after which the same statement may succeed later: shutdown, start-up, too many
// connections, serialization failure, deadlock.
const TRANSIENT_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300", "40001", "40P01"]);

// pg reports lost or refused connections with plain Error messages, without a code.
const TRANSIENT_MESSAGES = new RegExp(
  [
    "connection terminated",
    "timeout exceeded when trying to connect",
    "connection error",
    "cannot use a pool after calling end",
    "too many connections",
    "handler disconnected",
  ].join("|"),
  "i",
);

/**
 * True when an error means Postgres could not be reached or asked to try again, so the caller
 * should retry (or keep the record in its outbox) rather than treat the request as bad.
 */
export function isTransientDatabaseError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;

  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (NETWORK_CODES.has(code) || TRANSIENT_SQLSTATES.has(code) || code.startsWith("08")) {
      return true;
    }
  }
  if (err instanceof AggregateError) return err.errors.some(isTransientDatabaseError);

  return TRANSIENT_MESSAGES.test(err.message);
}

/**
 * Maps a database failure to the caller's status: UNAVAILABLE (reason database_unavailable)
 * when retrying can help, otherwise a generic INTERNAL whose detail stays in the logs.
 */
export function rpcErrorFromDatabase(err: unknown, action: string): RpcError {
  if (err instanceof RpcError) return err;

  if (isTransientDatabaseError(err)) {
    return new RpcError(
      GrpcStatus.UNAVAILABLE,
      `the ledger database is unreachable, so it could not ${action}; retry later`,
      "database_unavailable",
    );
  }
  return new RpcError(
    GrpcStatus.INTERNAL,
    `the ledger could not ${action}; the cause is in its logs`,
    "internal",
  );
}
