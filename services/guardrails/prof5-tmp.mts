import { readFileSync } from "node:fs";
import { SIGNALS } from "./src/injection/signals.ts";
import { prepareText } from "./src/normalize.ts";
import { hasAllGroups } from "./src/vocabulary.ts";
import { findPii } from "./src/pii/detectors.ts";
import { findPhones } from "./src/pii/phone.ts";
const prompts = readFileSync("/work/shared/eval/prompts-benign.jsonl","utf8").split("\n").filter(Boolean).map(l=>JSON.parse(l).text as string);
const texts: string[] = [];
for (let i = 0; i < prompts.length; i++) { let t = ""; for (let j = i; t.length < 2048; j = (j+1)%prompts.length) t += prompts[j] + "\n\n"; texts.push(t.slice(0,2048)); }
const time = (f: () => unknown, n = 20) => { for (let i=0;i<3;i++) f(); const s = process.hrtime.bigint(); for (let i=0;i<n;i++) f(); return Number(process.hrtime.bigint()-s)/1000/n; };
// per-signal total time over all texts, only when triggered
const p = texts.map(t => prepareText(t));
const res: [string, number, number][] = [];
for (const s of SIGNALS) { if (s.view !== "latin") continue; let ran = 0; const us = time(() => { ran = 0; for (const q of p) { if (s.triggers && !hasAllGroups(q.vocab, s.triggers)) continue; ran++; s.re.exec(q.folded.text); } }, 3); res.push([s.id, us / texts.length, ran]); }
res.sort((a,b)=>b[1]-a[1]); console.log(res.slice(0,12).map(([i,u,r])=>`${i} ${u.toFixed(2)}µs/text ran ${r}/${texts.length}`).join("\n"));
for (const idx of [120, 359, 208, 34]) { console.log(idx, "pii", time(() => findPii(texts[idx]!, "US")).toFixed(0), "phones", time(() => findPhones(texts[idx]!, "US")).toFixed(0)); }
