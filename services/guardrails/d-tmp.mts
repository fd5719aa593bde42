import { readFileSync } from "node:fs";
import { scoreInjection } from "./src/injection/score.ts";
for (const f of ["injection-dev.jsonl", "prompts-benign.jsonl"]) {
  const rows = readFileSync("/work/shared/eval/" + f, "utf8").split("\n").filter(Boolean).map(l => JSON.parse(l));
  const benign = rows.filter((r: any) => r.label !== "injection");
  const scored = benign.map((r: any) => { const s = scoreInjection(r.text); return [s.score, r.id, s.hits.map(h => h.id).join(",")] as const; }).filter(x => x[0] > 0).sort((a, b) => b[0] - a[0]);
  console.log(f, "benign with score>0:", scored.length, "of", benign.length);
  for (const x of scored.slice(0, 15)) console.log("  ", x[0].toFixed(2), x[1], x[2]);
}
