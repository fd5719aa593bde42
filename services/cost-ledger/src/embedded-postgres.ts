import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import type { Logger } from "@mesh/logging";

/** Options for the embedded database used when no DATABASE_URL is given. */
export interface EmbeddedPostgresOptions {
  /** Folder holding the database files; created on first start. */
  dataDir: string;
  /** Socket connections allowed at once; must cover the pool size plus the migrator. */
  maxConnections: number;
  logger: Logger;
}

/** A running PGlite reachable over the Postgres wire protocol on 127.0.0.1. */
export interface EmbeddedPostgres {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  /** A connection string `pg` accepts; PGlite ignores user and password. */
  readonly connectionString: string;
  /** Closes the socket server, then the database, then releases the data folder. */
  stop(): Promise<void>;
}

/**
 * Resolves where embedded ledger data lives: LEDGER_DATA_DIR when set (relative paths from
 * the repository root, since pnpm runs scripts inside the package folder), else
 * `<repo>/.data/ledger`. Falls back to the working directory outside a checkout.
 */
export function resolveLedgerDataDir(configured: string | undefined): string {
  const base = findRepoRoot() ?? process.cwd();
  if (!configured) return join(base, ".data", "ledger");

  return isAbsolute(configured) ? configured : resolve(base, configured);
}

/**
 * Starts PGlite on a data folder and serves it on a free port of 127.0.0.1, so the same `pg`
 * Pool code path serves embedded and real Postgres. First start runs initdb (~8 s).
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const { dataDir, logger } = options;
  mkdirSync(dirname(dataDir), { recursive: true });
  const releaseLock = lockDataDir(dataDir);

  let db: PGlite | undefined;
  try {
    const started = Date.now();
    const fresh = !existsSync(join(dataDir, "PG_VERSION"));
    db = await PGlite.create({ dataDir });

    const server = new PGLiteSocketServer({
      db,
      host: "127.0.0.1",
      port: 0,
      maxConnections: options.maxConnections,
    });
    await server.start();

    const [host = "127.0.0.1", portText = "0"] = server.getServerConn().split(":");
    const port = Number(portText);
    logger.info(
      { dataDir, port, fresh, ms: Date.now() - started },
      "embedded postgres (pglite) started; set DATABASE_URL to use a real server",
    );

    const opened = db;
    return {
      dataDir,
      host,
      port,
      connectionString: `postgres://postgres@${host}:${port}/postgres`,
      async stop() {
        await server.stop();
        await opened.close();
        releaseLock();
      },
    };
  } catch (err) {
    await db?.close().catch(() => undefined);
    releaseLock();
    throw err;
  }
}

// Data folders this process has open; a pid file cannot tell these apart from stale locks.
const openHere = new Set<string>();

// PGlite has no postmaster to stop a second process from opening the same files, which would
// corrupt them; a pid file beside the folder refuses that while letting stale locks go.
function lockDataDir(dataDir: string): () => void {
  if (openHere.has(dataDir)) {
    throw new Error(`ledger data folder ${dataDir} is already open in this process`);
  }

  const lockPath = `${dataDir}.lock`;
  const release = () => {
    openHere.delete(dataDir);
    rmSync(lockPath, { force: true });
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      openHere.add(dataDir);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;

      // Our own pid here is a leftover from an earlier run (pid 1 in containers), not a holder.
      const holder = Number(readFileSync(lockPath, "utf8").trim());
      if (holder !== process.pid && isAlive(holder)) {
        throw new Error(
          `ledger data folder ${dataDir} is in use by process ${holder}; stop it, ` +
            "or set LEDGER_DATA_DIR to another folder",
        );
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`could not lock ledger data folder ${dataDir}; remove ${lockPath}`);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;

  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function findRepoRoot(): string | undefined {
  const starts = [dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    let dir = start;
    for (;;) {
      if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;

      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return undefined;
}
