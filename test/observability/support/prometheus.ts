import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../support/launch-mesh.js";

/** True when a `prometheus` binary is on PATH (Debian: apt-get install prometheus). */
export function hasPrometheus(): boolean {
  try {
    execFileSync("prometheus", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** One scrape job: a name and the host:port targets whose /metrics it reads. */
export interface ScrapeJob {
  job: string;
  targets: string[];
}

export interface PrometheusOptions {
  jobs: ScrapeJob[];
  /** Absolute paths of rule files to load. */
  ruleFiles: string[];
  /** Scrape and rule evaluation interval, in seconds. */
  intervalSeconds: number;
}

/** One sample of an instant query: the series' labels and its value. */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

/** A real Prometheus server on a free port with its data in a temp dir. */
export interface RunningPrometheus {
  url: string;
  /** An instant query at `timeSeconds` (default now); throws on a query error. */
  query(expr: string, timeSeconds?: number): Promise<PromSample[]>;
  /** The value of a query that yields one series, undefined when it yields none. */
  scalar(expr: string, timeSeconds?: number): Promise<number | undefined>;
  /** Polls until `check` returns a value, or throws after the timeout. */
  waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * Starts `prometheus` with a generated configuration that scrapes the given jobs' /metrics
 * every `intervalSeconds` and evaluates the given rule files as often.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), "mesh-prometheus-"));
  const port = await freePort();
  const interval = `${options.intervalSeconds}s`;
  // JSON is YAML, and saves writing a YAML emitter for a handful of keys.
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: options.ruleFiles,
    scrape_configs: options.jobs.map((j) => ({
      job_name: j.job,
      metrics_path: "/metrics",
      static_configs: [{ targets: j.targets }],
    })),
  };
  writeFileSync(join(dir, "prometheus.yml"), JSON.stringify(config, null, 2));

  const child: ChildProcess = spawn(
    "prometheus",
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.on("data", (b: Buffer) => (output += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (output += b.toString()));

  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      child.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };

  async function query(expr: string, timeSeconds?: number): Promise<PromSample[]> {
    const params = new URLSearchParams({ query: expr });
    if (timeSeconds !== undefined) params.set("time", timeSeconds.toFixed(3));
    const res = await fetch(`${url}/api/v1/query?${params}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: { metric: Record<string, string>; value: unknown }[] };
    };
    if (body.status !== "success" || !body.data) {
      throw new Error(`prometheus rejected ${expr}: ${body.error ?? res.status}`);
    }
    if (body.data.resultType === "scalar") {
      const [, value] = body.data.result as unknown as [number, string];
      return [{ metric: {}, value: Number(value) }];
    }
    return body.data.result.map((r) => ({
      metric: r.metric,
      value: Number((r.value as [number, string])[1]),
    }));
  }

  async function waitFor<T>(
    what: string,
    check: () => Promise<T | undefined>,
    timeoutMs = 20_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) {
        throw new Error(`prometheus: ${what} within ${timeoutMs} ms; its output:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  const running: RunningPrometheus = {
    url,
    query,
    async scalar(expr, timeSeconds) {
      const samples = await query(expr, timeSeconds);
      if (samples.length > 1) throw new Error(`${expr} gave ${samples.length} series, not one`);
      return samples[0]?.value;
    },
    waitFor,
    logs: () => output,
    stop,
  };

  try {
    await waitFor("ready", async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited early:\n${output}`);
      const res = await fetch(`${url}/-/ready`).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return running;
}
