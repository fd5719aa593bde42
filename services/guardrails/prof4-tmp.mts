import { readFileSync } from "node:fs";
import { foldForMatching } from "./src/normalize.ts";
import { vocabularyOf } from "./src/vocabulary.ts";
const prompts = readFileSync("/work/shared/eval/prompts-benign.jsonl","utf8").split("\n").filter(Boolean).map(l=>JSON.parse(l).text as string);
const texts: string[] = [];
for (let i = 0; i < prompts.length; i++) { let t = ""; for (let j = i; t.length < 2048; j = (j+1)%prompts.length) t += prompts[j] + "\n\n"; texts.push(t.slice(0,2048)); }
function m(name: string, f: (t: string) => unknown) {
  for (let r=0;r<5;r++) for (const t of texts) f(t);
  const s = process.hrtime.bigint(); for (let r=0;r<5;r++) for (const t of texts) f(t); console.log(name, (Number(process.hrtime.bigint()-s)/1000/5/texts.length).toFixed(1), "µs per 2KB");
}
m("fold", t => foldForMatching(t));
const folded = texts.map(t => foldForMatching(t).text);
let k = 0; m("vocab", t => vocabularyOf(folded[(k++)%folded.length]!));
m("lower", t => t.toLowerCase());
m("nfkc", t => t.normalize("NFKC"));
m("split", t => t.split(/[^a-z0-9']+/));
