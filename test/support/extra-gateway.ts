import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { freePort, REPO_ROOT, type RunningMesh } from "./launch-mesh.js";

/** A second gateway process beside the mesh's, sharing its Postgres, Redis and back ends. */
export interface ExtraGateway {
  url: string;
  grpcAddress: string;
  logs: string[];
  stop(): Promise<void>;
}

/** Starts one more gateway process on free ports, pointed at the running mesh's back ends. */
export async function startExtraGateway(
  running: RunningMesh,
  env: Record<string, string>,
): Promise<ExtraGateway> {
  const http = await freePort();
  const grpc = await freePort();
  const logs: string[] = [];
  const baseEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(ANTHROPIC|OPENAI)_/.test(name)) baseEnv[name] = value;
  }
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: resolve(REPO_ROOT, "services", "gateway"),
    env: {
      ...baseEnv,
      ...env,
      GATEWAY_HTTP_PORT: String(http),
      GATEWAY_GRPC_PORT: String(grpc),
      ORCHESTRATOR_ADDR: `127.0.0.1:${running.ports.orchestrator.grpc}`,
      GUARDRAILS_ADDR: `127.0.0.1:${running.ports.guardrails.grpc}`,
      LEDGER_ADDR: `127.0.0.1:${running.ports["cost-ledger"].grpc}`,
      METRICS_ADDR: `127.0.0.1:${running.ports.metrics.grpc}`,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  collectLines(child, logs);

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`second gateway exited:\n${logs.join("\n")}`);
    const ok = await fetch(`http://127.0.0.1:${http}/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`second gateway not ready:\n${logs.join("\n")}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url: `http://127.0.0.1:${http}`,
    grpcAddress: `127.0.0.1:${grpc}`,
    logs,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once("exit", () => done());
        child.kill("SIGTERM");
      }),
  };
}

function collectLines(child: ChildProcess, into: string[]): void {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      into.push(...lines.filter(Boolean));
    });
  }
}
