import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { BillingService } from "@mesh/contracts/gateway/v1/billing_pb";
import type { CostLedgerService } from "@mesh/contracts/ledger/v1/ledger_pb";
import type { Logger } from "@mesh/logging";
import {
  GrpcStatus,
  RpcError,
  registerService,
  type GrpcClient,
  type ServiceRegistration,
} from "@mesh/rpc";
import { presentedKey, requireScope, type KeyIdentity } from "./api-keys.js";
import { inConnectSpan } from "./connect-api.js";
import { gatewayError, invalidRequest } from "./errors.js";
import type { KeyStore } from "./key-store.js";
import type { HeaderReader } from "./pipeline.js";

/** Spend queries scan usage rows; give them longer than a request-path check. */
const LEDGER_TIMEOUT_MS = 15_000;

type BillingMethods = (typeof BillingService)["method"];
type Unary<M> = M extends {
  input: infer I extends DescMessage;
  output: infer O extends DescMessage;
}
  ? (req: MessageShape<I>, header: HeaderReader) => Promise<MessageInitShape<O>>
  : never;

/** The billing operations, independent of the protocol they arrive on. */
export type BillingHandlers = { [K in keyof BillingMethods]: Unary<BillingMethods[K]> };

/** The ledger calls the billing API makes. */
export type BillingLedger = Pick<
  GrpcClient<typeof CostLedgerService>,
  | "querySpend"
  | "getBudgetStatus"
  | "listReservations"
  | "listBudgets"
  | "setBudget"
  | "deleteBudget"
>;

/** Who is calling and whether it may see every tenant. */
interface Caller {
  identity: KeyIdentity;
  admin: boolean;
}

/**
 * BillingService: spend, budget status, reservations in flight and budgets, read from the cost
 * ledger. Admin keys read and manage every tenant; metrics:read keys read their own tenant only
 * (an empty tenant means theirs) and manage nothing.
 */
export function createBillingHandlers(
  keys: KeyStore,
  ledger: BillingLedger,
  logger: Logger,
): BillingHandlers {
  const reader = async (header: HeaderReader): Promise<Caller> => {
    const identity = await keys.authenticate(presentedKey(header));
    if (identity.scopes.includes("admin")) return { identity, admin: true };

    requireScope(identity, "metrics:read");
    return { identity, admin: false };
  };

  const manager = async (header: HeaderReader): Promise<KeyIdentity> => {
    const identity = await keys.authenticate(presentedKey(header));
    requireScope(identity, "admin");
    return identity;
  };

  const ask = async <T>(action: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      throw fromLedger(err, action, logger);
    }
  };
  const options = { timeoutMs: LEDGER_TIMEOUT_MS };

  return {
    async querySpend(req, header) {
      const tenant = readableTenant(await reader(header), req.tenant);

      const spend = await ask("query spend", () =>
        ledger.querySpend(
          {
            tenant,
            apiKeyId: req.apiKeyId,
            model: req.model,
            since: req.since,
            until: req.until,
            groupBy: req.groupBy,
            limit: req.limit,
          },
          options,
        ),
      );
      return { rows: spend.rows, total: spend.total, truncated: spend.truncated };
    },

    async getBudgetStatus(req, header) {
      const tenant = readableTenant(await reader(header), req.tenant);
      if (!tenant) throw invalidRequest("tenant: required; name the tenant whose budget to read");

      const status = await ask("read budget status", () =>
        ledger.getBudgetStatus({ tenant, apiKeyId: req.apiKeyId }, options),
      );
      return {
        hasBudget: status.hasBudget,
        remaining: status.remaining,
        usedFraction: status.usedFraction,
        budgets: status.budgets,
      };
    },

    async listReservations(req, header) {
      const tenant = readableTenant(await reader(header), req.tenant);

      const list = await ask("list reservations", () =>
        ledger.listReservations({ tenant, apiKeyId: req.apiKeyId, limit: req.limit }, options),
      );
      return {
        reservations: list.reservations,
        totalCount: list.totalCount,
        totalAmount: list.totalAmount,
      };
    },

    async listBudgets(req, header) {
      const tenant = readableTenant(await reader(header), req.tenant);

      const list = await ask("list budgets", () =>
        ledger.listBudgets({ tenant, apiKeyId: req.apiKeyId }, options),
      );
      return { budgets: list.budgets };
    },

    async setBudget(req, header) {
      const admin = await manager(header);

      const set = await ask("set budget", () => ledger.setBudget({ budget: req.budget }, options));
      const budget = set.state?.budget;
      logger.info(
        { tenant: budget?.tenant, apiKeyId: budget?.apiKeyId, by: admin.keyId },
        "budget set",
      );
      return { state: set.state };
    },

    async deleteBudget(req, header) {
      const admin = await manager(header);

      const result = await ask("delete budget", () =>
        ledger.deleteBudget(
          { tenant: req.tenant, apiKeyId: req.apiKeyId, period: req.period },
          options,
        ),
      );
      if (result.deleted) {
        logger.info(
          { tenant: req.tenant, apiKeyId: req.apiKeyId, by: admin.keyId },
          "budget deleted",
        );
      }
      return { deleted: result.deleted };
    },
  };
}

/** BillingService on the gateway's gRPC server. */
export function grpcBillingService(handlers: BillingHandlers): ServiceRegistration {
  return registerService(BillingService, {
    querySpend: (req, call) => handlers.querySpend(req, call.header),
    getBudgetStatus: (req, call) => handlers.getBudgetStatus(req, call.header),
    listReservations: (req, call) => handlers.listReservations(req, call.header),
    listBudgets: (req, call) => handlers.listBudgets(req, call.header),
    setBudget: (req, call) => handlers.setBudget(req, call.header),
    deleteBudget: (req, call) => handlers.deleteBudget(req, call.header),
  });
}

/** BillingService over Connect, on the HTTP port. */
export function connectBillingRoutes(handlers: BillingHandlers) {
  const span = (method: string) => `gateway.v1.BillingService/${method}`;
  return (router: ConnectRouter) =>
    router.service(BillingService, {
      querySpend: (req, ctx) =>
        inConnectSpan(ctx, span("QuerySpend"), (h) => handlers.querySpend(req, h)),
      getBudgetStatus: (req, ctx) =>
        inConnectSpan(ctx, span("GetBudgetStatus"), (h) => handlers.getBudgetStatus(req, h)),
      listReservations: (req, ctx) =>
        inConnectSpan(ctx, span("ListReservations"), (h) => handlers.listReservations(req, h)),
      listBudgets: (req, ctx) =>
        inConnectSpan(ctx, span("ListBudgets"), (h) => handlers.listBudgets(req, h)),
      setBudget: (req, ctx) =>
        inConnectSpan(ctx, span("SetBudget"), (h) => handlers.setBudget(req, h)),
      deleteBudget: (req, ctx) =>
        inConnectSpan(ctx, span("DeleteBudget"), (h) => handlers.deleteBudget(req, h)),
    });
}

/**
 * The tenant a caller may read: an admin any (empty = every tenant), anyone else only its own,
 * which an empty tenant stands for.
 */
function readableTenant(caller: Caller, requested: string): string {
  if (caller.admin) return requested;

  const own = caller.identity.tenant;
  if (requested === "" || requested === own) return own;
  throw gatewayError(
    GrpcStatus.PERMISSION_DENIED,
    "permission",
    `this API key may only read tenant ${own}; leave tenant empty or use an admin key`,
  );
}

/**
 * Turns a failed ledger call into the caller's error. The ledger's status code carries over;
 * its messages are written for callers and pass through, except where they would expose the
 * mesh's internals (addresses, timeouts), which are logged instead. Ledger trailers stay inside.
 */
function fromLedger(err: unknown, action: string, logger: Logger): unknown {
  if (!(err instanceof RpcError)) return err;

  switch (err.code) {
    case GrpcStatus.UNAVAILABLE:
      logger.warn({ err: err.message, action }, "cost ledger unavailable");
      return new RpcError(
        GrpcStatus.UNAVAILABLE,
        `the cost ledger is unavailable, could not ${action}; retry in a few seconds`,
      );
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new RpcError(
        GrpcStatus.DEADLINE_EXCEEDED,
        `the cost ledger did not ${action} within ${LEDGER_TIMEOUT_MS / 1000} s; ` +
          "narrow the query (tenant, since/until) or retry",
      );
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.OUT_OF_RANGE:
    case GrpcStatus.FAILED_PRECONDITION:
      return gatewayError(err.code, "invalid_request", err.message);
    case GrpcStatus.INTERNAL:
    case GrpcStatus.UNKNOWN:
      logger.error({ err: err.message, action }, "cost ledger failed");
      return gatewayError(
        err.code,
        "internal",
        `the cost ledger could not ${action} (internal error); retry, and report it if it persists`,
      );
    default:
      return new RpcError(err.code, err.message);
  }
}
