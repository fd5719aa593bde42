import { readFileSync } from "node:fs";
import { foldForMatching } from "./src/normalize.ts";
const prompts = readFileSync("/work/shared/eval/prompts-benign.jsonl","utf8").split("\n").filter(Boolean).map(l=>JSON.parse(l).text as string);
const texts: string[] = [];
for (let i = 0; i < prompts.length; i++) { let t = ""; for (let j = i; t.length < 2048; j = (j+1)%prompts.length) t += prompts[j] + "\n\n"; texts.push(t.slice(0,2048)); }
function m(name: string, f: (t: string) => unknown) {
  for (let r=0;r<5;r++) for (const t of texts) f(t);
  const s = process.hrtime.bigint(); for (let r=0;r<20;r++) for (const t of texts) f(t); console.log(name, (Number(process.hrtime.bigint()-s)/1000/20/texts.length).toFixed(1), "µs per 2KB");
}
m("sumcodes", t => { let s = 0; for (let i = 0; i < t.length; i++) s += t.charCodeAt(i); return s; });
m("fold", t => foldForMatching(t));
const nonAscii = texts.map(t => [...t].filter(c => c.charCodeAt(0) > 127).length);
console.log("avg non-ascii chars per text", nonAscii.reduce((a,b)=>a+b,0)/texts.length);
m("alloc3", t => { const a = new Uint16Array(t.length+16); const b = new Int32Array(t.length+16); const c = new Int32Array(t.length+16); return a.length+b.length+c.length; });
m("fromCharCode", t => { const u = new Uint16Array(t.length); for (let i=0;i<t.length;i++) u[i]=t.charCodeAt(i); return String.fromCharCode.apply(null, u as unknown as number[]); });
const td = new TextDecoder("utf-16le");
m("textdecoder", t => { const u = new Uint16Array(t.length); for (let i=0;i<t.length;i++) u[i]=t.charCodeAt(i); return td.decode(u); });
const flat = texts.map(t => JSON.parse(JSON.stringify(t)) as string);
let k=0; m("sumcodes-flat", _ => { const t = flat[(k++)%flat.length]!; let s = 0; for (let i = 0; i < t.length; i++) s += t.charCodeAt(i); return s; });
m("buffer-latin1", t => { const u = new Uint16Array(t.length); for (let i=0;i<t.length;i++) u[i]=t.charCodeAt(i); return Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString("utf16le"); });
