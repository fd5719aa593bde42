import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A dependency check for /ready: resolves when the dependency answers, throws otherwise. */
export type ReadinessCheck = () => Promise<void>;

/** Extra HTTP routes a service serves on its probe port (e.g. /metrics). */
export type ExtraRoute = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface ProbeServer {
  readonly port: number;
  /** Makes /ready answer 503 from now on, before the process drains. */
  markNotReady(): void;
  close(): Promise<void>;
}

export interface ProbeServerOptions {
  host: string;
  port: number;
  /** Named checks; /ready answers 200 only when all pass within the timeout. */
  checks: Record<string, ReadinessCheck>;
  routes?: ExtraRoute;
  checkTimeoutMs?: number;
}

/**
 * Serves Kubernetes probes: GET /health answers 200 while the process runs; GET /ready
 * answers 200 when every dependency check passes, else 503 with the failing checks named.
 */
export async function startProbeServer(options: ProbeServerOptions): Promise<ProbeServer> {
  let ready = true;
  const timeoutMs = options.checkTimeoutMs ?? 2_000;

  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/health") {
      return sendJson(res, 200, { status: "ok" });
    }

    if (req.method === "GET" && path === "/ready") {
      if (!ready) return sendJson(res, 503, { status: "shutting_down" });

      const results = await runChecks(options.checks, timeoutMs);
      const failing = Object.entries(results).filter(([, r]) => r !== "ok");
      return sendJson(res, failing.length === 0 ? 200 : 503, {
        status: failing.length === 0 ? "ready" : "not_ready",
        checks: results,
      });
    }

    if (options.routes && (await options.routes(req, res))) return;
    sendJson(res, 404, { error: `no route for ${req.method} ${path}` });
  });
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve) => server.listen(options.port, options.host, resolve));

  return {
    port: (server.address() as AddressInfo).port,
    markNotReady: () => {
      ready = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function runChecks(
  checks: Record<string, ReadinessCheck>,
  timeoutMs: number,
): Promise<Record<string, string>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([check(), timeout]);
        return [name, "ok"] as const;
      } catch (err) {
        return [name, err instanceof Error ? err.message : String(err)] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return Object.fromEntries(entries);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}
