import { createHash } from "node:crypto";
import type { Logger } from "@mesh/logging";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import pg from "pg";

/** One full snapshot of the tenants that have any budget. */
export interface BudgetedTenants {
  /** Sorted. */
  tenants: string[];
  /** Grows with every change of the set, for the life of this process. */
  version: number;
}

/** Settings of the budget directory. */
export interface BudgetDirectoryOptions {
  pool: pg.Pool;
  schema: string;
  logger: Logger;
  /**
   * Postgres to LISTEN on for other replicas' budget changes; undefined with embedded PGlite,
   * where this process is the only writer and its own updates are enough.
   */
  listenUrl: string | undefined;
  /** How often the set is reloaded anyway, for missed notifications and direct SQL edits. */
  reloadMs: number;
  /** How long a budget change waits for a watcher that does not take its snapshot. */
  pushTimeoutMs?: number;
  /** Delays between reconnects of the LISTEN connection. */
  reconnectMs?: { initial: number; max: number };
}

/**
 * The tenants that have a budget, kept in memory and streamed to watchers (orchestrators), so
 * requests of the other tenants can skip ReserveBudget. A tenant may be listed without a budget
 * for a moment (that only costs a reservation call), never the other way round while the
 * directory is following: a budget set here is pushed before SetBudget answers, one set by
 * another replica arrives by NOTIFY. While the LISTEN connection is down the directory cannot
 * vouch for the set, so watch streams end UNAVAILABLE and watchers reserve for every tenant.
 */
export interface BudgetDirectory {
  /** The NOTIFY channel budget changes are announced on; undefined when nobody listens. */
  readonly channel: string | undefined;
  /** Starts listening and loads the set; rejects when the set cannot be loaded. */
  start(): Promise<void>;
  /**
   * Records a budget of `tenant` this process just committed, then waits until every watcher
   * has been handed a snapshot with it (or the push timeout passed for a stuck one).
   */
  added(tenant: string): Promise<void>;
  /**
   * Reloads after this process removed a budget of `tenant`, then waits as `added` does.
   * Never rejects: until a reload succeeds the tenant stays listed, which is safe.
   */
  removed(tenant: string): Promise<void>;
  /** The current snapshot, then a new one on every change, until `signal` aborts. */
  watch(signal: AbortSignal): AsyncGenerator<BudgetedTenants>;
  /** Ends every watch stream, stops listening and reloading. */
  stop(): Promise<void>;
}

interface Watcher {
  /** Version of the last snapshot handed to the stream; -1 before the first. */
  delivered: number;
  /** Missed a push timeout; not waited for again until it takes a snapshot. */
  lagging: boolean;
  wake(): void;
}

const NAME_LIMIT = 63;

/** The NOTIFY channel of a schema; test schemas on one database never hear each other. */
export function budgetChannel(schema: string): string {
  const channel = `ledger_budgets_${schema}`;
  if (channel.length <= NAME_LIMIT) return channel;

  // Cutting a long name could make two schemas share a channel; a digest cannot.
  return `ledger_budgets_${createHash("sha256").update(schema).digest("hex").slice(0, 40)}`;
}

/** Creates the directory; call `start` before serving watch streams. */
export function createBudgetDirectory(options: BudgetDirectoryOptions): BudgetDirectory {
  const { pool, logger, listenUrl } = options;
  const channel = listenUrl === undefined ? undefined : budgetChannel(options.schema);
  const pushTimeoutMs = options.pushTimeoutMs ?? 1_000;
  const reconnect = options.reconnectMs ?? { initial: 250, max: 5_000 };

  let tenants = new Set<string>();
  let sorted: string[] = [];
  let version = 0;
  // Without a LISTEN connection there is nothing to follow, so the set is always current.
  let following = channel === undefined;
  let stopped = false;
  const watchers = new Set<Watcher>();
  const deliveryWaiters = new Set<() => void>();

  let listener: pg.Client | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let reconnectDelay = reconnect.initial;
  let reloadTimer: NodeJS.Timeout | undefined;

  // Reloads run one at a time; tenants added while one runs are kept, since its query may
  // have read the table before their budgets committed.
  let loading: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  let addedDuringLoad: Set<string> | undefined;

  function replace(next: Set<string>): void {
    if (next.size === tenants.size && [...next].every((t) => tenants.has(t))) return;

    tenants = next;
    sorted = [...next].sort();
    version++;
    wakeWatchers();
  }

  function wakeWatchers(): void {
    for (const w of watchers) w.wake();
  }

  async function loadOnce(): Promise<void> {
    const adds = new Set<string>();
    addedDuringLoad = adds;
    try {
      const { rows } = await pool.query<{ tenant: string }>(
        "SELECT DISTINCT tenant FROM budgets",
      );
      const next = new Set(rows.map((r) => r.tenant));
      for (const t of adds) next.add(t);
      replace(next);
    } finally {
      addedDuringLoad = undefined;
    }
  }

  // Resolves after a load that began after this call, so it sees every earlier commit.
  function reload(): Promise<void> {
    if (!loading) {
      loading = loadOnce().finally(() => {
        loading = undefined;
      });
      return loading;
    }
    queued ??= loading
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        return reload();
      });
    return queued;
  }

  function reloadLogged(why: string): Promise<void> {
    return reload().catch((err: unknown) => {
      logger.warn({ err, why }, "could not reload the tenants with budgets; keeping the last set");
    });
  }

  function onDelivered(): void {
    for (const check of [...deliveryWaiters]) check();
  }

  // Waits until every watcher has taken the current version, or the timeout passed.
  function untilDelivered(): Promise<void> {
    const target = version;
    const done = () => [...watchers].every((w) => w.lagging || w.delivered >= target);
    if (done()) return Promise.resolve();

    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        deliveryWaiters.delete(check);
        resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = setTimeout(() => {
        logger.warn({ version: target }, "a budget watcher did not take the new snapshot in time");
        for (const w of watchers) if (w.delivered < target) w.lagging = true;
        finish();
      }, pushTimeoutMs);
      timer.unref();
      deliveryWaiters.add(check);
    });
  }

  function unfollow(err: unknown): void {
    if (stopped || listener === undefined) return;

    logger.warn(
      { err },
      "lost the LISTEN connection for budget changes; ending budget watch streams until back",
    );
    const lost = listener;
    listener = undefined;
    following = false;
    lost.removeAllListeners();
    lost.on("error", () => undefined);
    lost.end().catch(() => undefined);
    wakeWatchers();
    scheduleListen();
  }

  function scheduleListen(): void {
    if (stopped || reconnectTimer) return;

    const delay = reconnectDelay;
    reconnectDelay = Math.min(reconnectDelay * 2, reconnect.max);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void listen().then((ok) => {
        if (ok) return;
        scheduleListen();
      });
    }, delay);
    reconnectTimer.unref();
  }

  // Connects, LISTENs, then reloads: a change committed before LISTEN took effect is in the
  // reload, one after it arrives as a notification.
  async function listen(): Promise<boolean> {
    if (stopped || listenUrl === undefined || channel === undefined) return false;

    const client = new pg.Client({
      connectionString: listenUrl,
      application_name: "cost-ledger-budgets",
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    client.on("error", (err) => unfollow(err));
    client.on("end", () => unfollow(new Error("connection ended")));
    client.on("notification", (message) => {
      if (message.channel === channel) void reloadLogged("notification");
    });
    try {
      listener = client;
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      await reload();
    } catch (err) {
      if (listener === client) {
        listener = undefined;
        client.removeAllListeners();
        client.on("error", () => undefined);
        await client.end().catch(() => undefined);
      }
      logger.warn({ err }, "could not listen for budget changes; retrying");
      return false;
    }
    if (stopped || listener !== client) return false;

    following = true;
    reconnectDelay = reconnect.initial;
    logger.info({ channel, tenants: tenants.size }, "following budget changes");
    return true;
  }

  async function* watch(signal: AbortSignal): AsyncGenerator<BudgetedTenants> {
    let wake: () => void = () => undefined;
    const watcher: Watcher = { delivered: -1, lagging: false, wake: () => wake() };
    const onAbort = () => wake();
    signal.addEventListener("abort", onAbort);
    watchers.add(watcher);
    try {
      for (;;) {
        if (stopped || signal.aborted) return;
        if (!following) throw notFollowing();

        if (watcher.delivered < version) {
          const snapshot = { tenants: sorted, version };
          yield snapshot;
          // The server asks for the next message only once it wrote this one.
          watcher.delivered = snapshot.version;
          watcher.lagging = false;
          onDelivered();
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = () => undefined;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      watchers.delete(watcher);
      onDelivered();
    }
  }

  return {
    channel,

    async start() {
      if (channel === undefined || !(await listen())) {
        await reload();
        // Without LISTEN the ledger serves anyway: watchers are refused and reserve as before.
        if (channel !== undefined) scheduleListen();
      }
      reloadTimer = setInterval(() => void reloadLogged("interval"), options.reloadMs);
      reloadTimer.unref();
    },

    async added(tenant) {
      addedDuringLoad?.add(tenant);
      if (!tenants.has(tenant)) replace(new Set([...tenants, tenant]));
      await untilDelivered();
    },

    async removed(tenant) {
      try {
        await reload();
      } catch (err) {
        logger.warn({ err, tenant }, "could not reload the tenants with budgets after a delete");
        return;
      }
      await untilDelivered();
    },

    watch,

    async stop() {
      stopped = true;
      clearInterval(reloadTimer);
      clearTimeout(reconnectTimer);
      wakeWatchers();
      const client = listener;
      listener = undefined;
      if (client) {
        client.removeAllListeners();
        client.on("error", () => undefined);
        await client.end().catch(() => undefined);
      }
      await loading?.catch(() => undefined);
    },
  };
}

function notFollowing(): RpcError {
  return new RpcError(
    GrpcStatus.UNAVAILABLE,
    "this ledger cannot follow budget changes right now (Postgres LISTEN is down); reserve " +
      "for every tenant and watch again later",
    "budgets_not_followed",
  );
}
