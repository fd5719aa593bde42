import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DEPLOY = join(ROOT, "deploy");

/** The parts of a Grafana dashboard this test reads. */
interface GrafanaDashboard {
  uid: string;
  templating: { list: { name: string; type: string; query: string }[] };
  panels: {
    id: number;
    title: string;
    type: string;
    datasource: { type: string; uid: string };
    gridPos: { x: number; y: number; w: number; h: number };
    targets: { refId: string; expr: string; datasource: { uid: string } }[];
  }[];
}

/** deploy/grafana/dashboard.json, parsed. */
function loadDashboard(): GrafanaDashboard {
  return JSON.parse(readFileSync(join(DEPLOY, "grafana", "dashboard.json"), "utf8"));
}

interface RuleFile {
  groups: { name: string; rules: { record?: string; alert?: string; expr: string }[] }[];
}

const recorded = new Set(
  (parse(readFileSync(join(DEPLOY, "prometheus", "rules", "recording.yml"), "utf8")) as RuleFile)
    .groups.flatMap((g) => g.rules.map((r) => r.record).filter((r): r is string => !!r)),
);

describe("the Grafana dashboard", () => {
  const dashboard = loadDashboard();
  const targets = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p, ...t })));

  it("queries only series the recording rules produce", () => {
    for (const t of targets) {
      // A bare recorded series name, nothing Grafana would have to compute at every refresh.
      expect(recorded.has(t.expr), `${t.panel.title}: ${t.expr}`).toBe(true);
    }
    expect(targets.length).toBe(21);
  });

  it("shows the design's four figures, and tokens, cache, guardrails, breakers and TTFT", () => {
    const used = new Set(targets.map((t) => t.expr));

    for (const series of [
      "ai:requests_per_minute:rate1m",
      "ai:latency_seconds:p99_5m",
      "ai:error_ratio:rate5m",
      "ai:cost_dollars:increase24h",
      "direction:ai_tokens_per_minute:rate5m",
      "ai:cache_hit_ratio:rate5m",
      "check_action:ai_guardrail_verdicts_per_minute:rate5m",
      "deployment:ai_breaker_state:max",
      "ai:time_to_first_token_seconds:p99_5m",
    ]) {
      expect(used.has(series), series).toBe(true);
    }
    // Every recorded series is on the dashboard.
    expect([...recorded].filter((r) => !used.has(r))).toEqual([]);
  });

  it("takes its Prometheus from a datasource variable, so it imports anywhere", () => {
    expect(dashboard.templating.list).toEqual([
      expect.objectContaining({ name: "datasource", type: "datasource", query: "prometheus" }),
    ]);
    for (const t of targets) {
      expect(t.panel.datasource).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect(t.datasource.uid).toBe("${datasource}");
    }
  });

  it("lays panels out on the 24-column grid without overlaps, with unique ids", () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);

    const cells = new Set<string>();
    for (const { gridPos: g, title } of dashboard.panels) {
      expect(g.x + g.w, title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});
