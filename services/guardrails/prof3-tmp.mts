import { readFileSync } from "node:fs";
import { findPii } from "./src/pii/detectors.ts";
import { scoreInjection } from "./src/injection/score.ts";
import { scoreContent } from "./src/checks/content.ts";
import { prepareText } from "./src/normalize.ts";
const prompts = readFileSync("/work/shared/eval/prompts-benign.jsonl","utf8").split("\n").filter(Boolean).map(l=>JSON.parse(l).text as string);
const texts: string[] = [];
for (let i = 0; i < prompts.length; i++) { let t = ""; for (let j = i; t.length < 2048; j = (j+1)%prompts.length) t += prompts[j] + "\n\n"; texts.push(t.slice(0,2048)); }
function m(name: string, f: (t: string) => unknown) {
  for (let r=0;r<3;r++) for (const t of texts) f(t);
  const us: number[] = []; const worst: [number, number][] = [];
  for (let r=0;r<3;r++) texts.forEach((t, i) => { const s = process.hrtime.bigint(); f(t); const d = Number(process.hrtime.bigint()-s)/1000; us.push(d); worst.push([d, i]); });
  us.sort((a,b)=>a-b); worst.sort((a,b)=>b[0]-a[0]);
  console.log(name.padEnd(12), "p50", us[us.length>>1]!.toFixed(1), "p99", us[Math.floor(us.length*0.99)]!.toFixed(1), "worst idx", worst.slice(0,5).map(([d,i])=>`${i}:${d.toFixed(0)}`).join(" "));
}
m("pii", t => findPii(t, "US"));
m("prepare", t => prepareText(t));
const prepared = new Map(texts.map(t => [t, prepareText(t)]));
m("injection", t => scoreInjection(t, prepared.get(t)));
m("content", t => scoreContent(t, prepared.get(t)));
