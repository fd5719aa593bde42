import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The five services, in the order they start. */
export const SERVICES = [
  "metrics",
  "cost-ledger",
  "guardrails",
  "orchestrator",
  "gateway",
] as const;
export type ServiceName = (typeof SERVICES)[number];

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Port variables of each service, by name. */
const PORT_ENV: Record<ServiceName, { http: string; grpc: string; addr?: string }> = {
  metrics: { http: "METRICS_HTTP_PORT", grpc: "METRICS_GRPC_PORT", addr: "METRICS_ADDR" },
  "cost-ledger": { http: "LEDGER_HTTP_PORT", grpc: "LEDGER_GRPC_PORT", addr: "LEDGER_ADDR" },
  guardrails: {
    http: "GUARDRAILS_HTTP_PORT",
    grpc: "GUARDRAILS_GRPC_PORT",
    addr: "GUARDRAILS_ADDR",
  },
  orchestrator: {
    http: "ORCHESTRATOR_HTTP_PORT",
    grpc: "ORCHESTRATOR_GRPC_PORT",
    addr: "ORCHESTRATOR_ADDR",
  },
  gateway: { http: "GATEWAY_HTTP_PORT", grpc: "GATEWAY_GRPC_PORT" },
};

/** Fixed ports for a developer's mesh; tests take free ones. */
export const DEFAULT_PORTS: Record<ServiceName, { http: number; grpc: number }> = {
  gateway: { http: 8080, grpc: 50051 },
  orchestrator: { http: 8082, grpc: 50052 },
  guardrails: { http: 8083, grpc: 50053 },
  "cost-ledger": { http: 8084, grpc: 50054 },
  metrics: { http: 8085, grpc: 50055 },
};

export interface MeshOptions {
  /** Env for every service, on top of a clean copy of this process's env. */
  env?: Record<string, string>;
  /** Env for one service only. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Extra node flags for one service, e.g. ["--cpu-prof"] when profiling. */
  nodeArgs?: Partial<Record<ServiceName, string[]>>;
  /** Use the fixed developer ports instead of free ones. */
  fixedPorts?: boolean;
  /** Where service output goes: kept in memory (tests) or printed with a prefix. */
  output?: "capture" | "print";
  readyTimeoutMs?: number;
}

export interface RunningMesh {
  ports: Record<ServiceName, { http: number; grpc: number }>;
  gatewayUrl: string;
  gatewayGrpcAddress: string;
  /** Output lines of each service (capture mode). */
  logs: Record<ServiceName, string[]>;
  processes: Record<ServiceName, ChildProcess>;
  stop(): Promise<void>;
}

/**
 * Starts the five services as separate Node processes, as they run in production, and waits
 * until each one's /ready answers 200. Provider credentials of the calling shell are dropped so
 * a test never reaches a real model by accident; pass them in `env` to use them.
 */
export async function launchMesh(options: MeshOptions = {}): Promise<RunningMesh> {
  // A free port can be taken by another process between the check and the bind; try again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchOnce(options);
    } catch (err) {
      const raced = String(err).includes("EADDRINUSE");
      if (!raced || options.fixedPorts || attempt >= 3) throw err;
    }
  }
}

async function launchOnce(options: MeshOptions): Promise<RunningMesh> {
  const ports = {} as RunningMesh["ports"];
  for (const name of SERVICES) {
    ports[name] = options.fixedPorts
      ? DEFAULT_PORTS[name]
      : { http: await freePort(), grpc: await freePort() };
  }

  const baseEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(ANTHROPIC|OPENAI)_/.test(key)) continue;
    baseEnv[key] = value;
  }
  for (const name of SERVICES) {
    const names = PORT_ENV[name];
    baseEnv[names.http] = String(ports[name].http);
    baseEnv[names.grpc] = String(ports[name].grpc);
    if (names.addr) baseEnv[names.addr] = `127.0.0.1:${ports[name].grpc}`;
  }

  // Test meshes on free ports keep the gateway's usage outbox in a folder of their own.
  const scratch = options.fixedPorts ? undefined : mkdtempSync(join(tmpdir(), "mesh-run-"));
  if (scratch) baseEnv.GATEWAY_OUTBOX_DIR = join(scratch, "gateway-outbox");

  const logs = {} as RunningMesh["logs"];
  const processes = {} as RunningMesh["processes"];
  const output = options.output ?? "capture";
  for (const name of SERVICES) {
    logs[name] = [];
    const args = [...(options.nodeArgs?.[name] ?? []), "--import", "tsx", "src/main.ts"];
    const child = spawn(process.execPath, args, {
      cwd: resolve(REPO_ROOT, "services", name),
      // A service whose launcher dies (a test runner killed, a start script orphaned) stops.
      env: {
        ...baseEnv,
        MESH_EXIT_WITH_PARENT: "1",
        ...options.env,
        ...options.serviceEnv?.[name],
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    processes[name] = child;
    pipeLines(child, (line) => {
      if (output === "print") process.stdout.write(`${name.padEnd(12)} | ${line}\n`);
      else logs[name].push(line);
    });
  }

  const mesh: RunningMesh = {
    ports,
    gatewayUrl: `http://127.0.0.1:${ports.gateway.http}`,
    gatewayGrpcAddress: `127.0.0.1:${ports.gateway.grpc}`,
    logs,
    processes,
    stop: async () => {
      await stopAll(processes);
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    },
  };

  try {
    await Promise.all(
      SERVICES.map((name) =>
        waitReady(name, ports[name].http, processes[name], logs, options.readyTimeoutMs ?? 90_000),
      ),
    );
  } catch (err) {
    await mesh.stop();
    throw err;
  }
  return mesh;
}

async function waitReady(
  name: ServiceName,
  port: number,
  child: ChildProcess,
  logs: RunningMesh["logs"],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const tail = logs[name].slice(-15).join("\n");
      throw new Error(`${name} exited with code ${child.exitCode} before it was ready:\n${tail}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `${name} was not ready within ${timeoutMs} ms:\n${logs[name].slice(-15).join("\n")}`,
  );
}

async function stopAll(processes: Record<ServiceName, ChildProcess>): Promise<void> {
  // Stop the edge first so nothing new comes in while the back ends drain.
  for (const name of [...SERVICES].reverse()) {
    await stopOne(processes[name]);
  }
}

function stopOne(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("exit", () => {
      clearTimeout(killer);
      resolveStop();
    });
    child.kill("SIGTERM");
  });
}

function pipeLines(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) if (line) onLine(line);
    });
  }
}

/** A port free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}
