/**
 * Starts the whole mesh on this machine: five services as separate processes on the fixed
 * developer ports, on embedded defaults unless DATABASE_URL / REDIS_URL are set.
 */
import { readFileSync } from "node:fs";
import { exitWithParent } from "@mesh/lifecycle";
import { launchMesh, SERVICES } from "../support/launch-mesh.js";

const apiKey = process.env.MESH_DEV_KEY ?? "mesh-dev-key";
const storage = process.env.DATABASE_URL ? "Postgres at DATABASE_URL" : "embedded PGlite (.data/)";
const env: Record<string, string> = {
  GATEWAY_API_KEYS: process.env.GATEWAY_API_KEYS ?? `${apiKey}=dev`,
};
for (const key of ["ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"]) {
  const value = process.env[key];
  if (value) env[key] = value;
}

console.log("starting the mesh: metrics, cost-ledger, guardrails, orchestrator, gateway ...");
const mesh = await launchMesh({ env, fixedPorts: true, output: "print", readyTimeoutMs: 120_000 });

const rows = SERVICES.map(
  (name) => `  ${name.padEnd(13)} http :${mesh.ports[name].http}   grpc :${mesh.ports[name].grpc}`,
);
console.log(
  [
    "",
    "mesh is up",
    ...rows,
    "",
    `  storage:   ${storage}`,
    `  cache:     ${process.env.REDIS_URL ? "Redis at REDIS_URL" : "in-process"}`,
    `  api key:   ${process.env.GATEWAY_API_KEYS ? "from GATEWAY_API_KEYS" : apiKey}`,
    `  metrics:   http://127.0.0.1:${mesh.ports.metrics.http}/metrics`,
    "",
    "try:",
    `  curl -s ${mesh.gatewayUrl}/v1/messages -H 'x-api-key: ${apiKey}' \\`,
    "    -H 'content-type: application/json' \\",
    `    -d '{"model":"auto","max_tokens":200,"messages":[{"role":"user","content":"Hello"}]}'`,
    "",
    "Ctrl-C stops every service (so does SIGTERM to this process, its group, or its parent).",
  ].join("\n"),
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await mesh.stop();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
// npx and pnpm don't pass a SIGTERM on: when whatever started us dies, stop the mesh too.
exitWithParent(() => void stop());
exitWithAncestors(() => void stop());

/**
 * Calls `onGone` once any process that was an ancestor at start (npx, pnpm, the shell under
 * them) has exited. Reads /proc, so Linux only; elsewhere exitWithParent alone applies.
 */
function exitWithAncestors(onGone: () => void): void {
  const identity = (pid: number) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Field 4 is the parent pid, field 22 the start time (a reused pid starts later).
      return { parent: Number(fields[1]), started: fields[19] };
    } catch {
      return undefined;
    }
  };
  const ancestors: Array<{ pid: number; started: string }> = [];
  for (let pid = process.ppid; pid > 1 && ancestors.length < 8; ) {
    const found = identity(pid);
    if (!found) break;
    ancestors.push({ pid, started: found.started ?? "" });
    pid = found.parent;
  }
  const timer = setInterval(() => {
    const gone = ancestors.some(({ pid, started }) => identity(pid)?.started !== started);
    if (!gone) return;
    clearInterval(timer);
    onGone();
  }, 500);
  timer.unref();
}
