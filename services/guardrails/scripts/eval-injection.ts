/**
 * Measures the injection check on injection-dev.jsonl: precision, recall, F1 and the benign
 * false-positive rate, overall and per source, at the configured threshold. The 500 benign
 * prompts of prompts-benign.jsonl are scored too and reported on their own line (they are
 * not part of the overall figures, which describe injection-dev alone).
 * Run: pnpm --filter @mesh/guardrails eval:injection [--threshold 0.5] [--verbose]
 */
import { scoreInjection } from "../src/injection/score.js";
import { evalDir, ratio, readJsonl } from "./eval-data.js";

interface Row {
  id: string;
  text: string;
  label: "injection" | "benign";
  source: string;
}

const args = process.argv.slice(2);
const thresholdArg = args.indexOf("--threshold");
const threshold = thresholdArg >= 0
  ? Number(args[thresholdArg + 1])
  : Number(process.env.GUARDRAILS_INJECTION_THRESHOLD ?? 0.5);
const verbose = args.includes("--verbose");

const rows = readJsonl<Row>("injection-dev.jsonl");
interface Counts { tp: number; fp: number; fn: number; tn: number }
const empty = (): Counts => ({ tp: 0, fp: 0, fn: 0, tn: 0 });
const overall = empty();
const bySource = new Map<string, Counts>();

// One untimed pass first, so the figure below is for warm code.
for (const row of rows) scoreInjection(row.text);

let elapsedMs = 0;
for (const row of rows) {
  const started = performance.now();
  const { score, hits } = scoreInjection(row.text);
  elapsedMs += performance.now() - started;

  const flagged = score >= threshold;
  const positive = row.label === "injection";
  const counts = bySource.get(row.source) ?? empty();
  bySource.set(row.source, counts);
  const key = positive ? (flagged ? "tp" : "fn") : flagged ? "fp" : "tn";
  counts[key] += 1;
  overall[key] += 1;

  if (verbose && (key === "fp" || key === "fn")) {
    const signals = hits.map((h) => h.id).join(",") || "-";
    console.log(`${key} ${row.id} ${row.source} score=${score.toFixed(2)} ${signals}`);
  }
}

// Real-traffic benign prompts: every flag here is a false positive.
const extra = readJsonl<{ id: string; text: string; source: string }>("prompts-benign.jsonl");
const extraCounts = empty();
for (const row of extra) {
  const { score, hits } = scoreInjection(row.text);
  if (score < threshold) {
    extraCounts.tn += 1;
    continue;
  }
  extraCounts.fp += 1;
  if (verbose) {
    const signals = hits.map((h) => h.id).join(",");
    console.log(`fp ${row.id} prompts-benign/${row.source} score=${score.toFixed(2)} ${signals}`);
  }
}

function line(name: string, c: Counts): string {
  const precision = c.tp / (c.tp + c.fp);
  const recall = c.tp / (c.tp + c.fn);
  const f1 = c.tp === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  const f1Text = c.tp + c.fn === 0 ? "    -" : f1.toFixed(3);
  const counts = `${String(c.tp + c.fn).padStart(4)} ${String(c.fp + c.tn).padStart(4)}`;
  return `${name.padEnd(28)} ${counts}  ${ratio(c.tp, c.tp + c.fp)}  ${ratio(c.tp, c.tp + c.fn)}` +
    `  ${f1Text}  ${ratio(c.fp, c.fp + c.tn)}`;
}

console.log(`injection eval on ${evalDir()}/injection-dev.jsonl, threshold ${threshold}\n`);
console.log("source                        inj  ben  precis  recall     F1  benign-FPR");
for (const [source, counts] of [...bySource].sort(([a], [b]) => a.localeCompare(b))) {
  console.log(line(source, counts));
}
console.log(line("overall", overall));
console.log(line("prompts-benign.jsonl (extra)", extraCounts));
const chars = rows.reduce((n, r) => n + r.text.length, 0);
console.log(
  `\n${((elapsedMs * 1000) / rows.length).toFixed(1)} µs per row on average ` +
    `(${Math.round(chars / rows.length)} chars per row)`,
);
