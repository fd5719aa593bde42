/**
 * Measures the PII detectors on pii-dev.jsonl: precision and recall per entity type by exact
 * span (type, start and end must all match). Run: pnpm --filter @mesh/guardrails eval:pii
 */
import { findPii } from "../src/pii/detectors.js";
import { PII_TYPES } from "../src/policy.js";
import { evalDir, ratio, readJsonl } from "./eval-data.js";

interface Row {
  id: string;
  text: string;
  entities: { type: string; start: number; end: number }[];
  source: string;
}

const rows = readJsonl<Row>("pii-dev.jsonl");
const verbose = process.argv.includes("--verbose");
const stats = new Map<string, { tp: number; fp: number; fn: number }>();
const stat = (type: string) => {
  const s = stats.get(type) ?? { tp: 0, fp: 0, fn: 0 };
  stats.set(type, s);
  return s;
};

// One untimed pass first, so the timing below is for warm code.
for (const row of rows) findPii(row.text, "US");

const started = performance.now();
for (const row of rows) {
  const found = findPii(row.text, "US");
  const key = (t: string, s: number, e: number) => `${t}:${s}:${e}`;
  const gold = new Set(row.entities.map((e) => key(e.type, e.start, e.end)));
  const predicted = new Set(found.map((f) => key(f.type, f.start, f.end)));

  for (const e of row.entities) {
    if (predicted.has(key(e.type, e.start, e.end))) stat(e.type).tp += 1;
    else {
      stat(e.type).fn += 1;
      if (verbose) {
        const value = JSON.stringify(row.text.slice(e.start, e.end));
        console.log(`miss ${row.id} ${e.type} [${e.start},${e.end}) ${value}`);
      }
    }
  }
  for (const f of found) {
    if (gold.has(key(f.type, f.start, f.end))) continue;
    stat(f.type).fp += 1;
    if (verbose) {
      const value = JSON.stringify(row.text.slice(f.start, f.end));
      console.log(`false ${row.id} ${f.type} [${f.start},${f.end}) ${value}`);
    }
  }
}
const elapsedMs = performance.now() - started;

const DETECTED = new Set<string>(PII_TYPES);
// Synthetic data only: --verbose shows the values so a rule's miss can be understood.
console.log(`PII eval on ${evalDir()}/pii-dev.jsonl: ${rows.length} rows, exact-span matching\n`);
console.log("type          gold  found  tp   precision  recall");
let tp = 0;
let fp = 0;
let fn = 0;
for (const [type, s] of [...stats].sort(([a], [b]) => a.localeCompare(b))) {
  const note = DETECTED.has(type) ? "" : "  (no detector for this type yet)";
  console.log(
    `${type.padEnd(13)} ${String(s.tp + s.fn).padStart(4)}  ${String(s.tp + s.fp).padStart(5)}` +
      `  ${String(s.tp).padStart(3)}   ${ratio(s.tp, s.tp + s.fp)}` +
      `      ${ratio(s.tp, s.tp + s.fn)}${note}`,
  );
  if (DETECTED.has(type)) {
    tp += s.tp;
    fp += s.fp;
    fn += s.fn;
  }
}
console.log(
  `\ndetected types overall: precision ${ratio(tp, tp + fp)}, recall ${ratio(tp, tp + fn)}; ` +
    `${((elapsedMs * 1000) / rows.length).toFixed(1)} µs per row`,
);
