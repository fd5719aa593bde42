/**
 * In-process speed of the guardrails checks on the benign prompts (prompts-benign.jsonl):
 * µs per CheckInput (p50, p90, p99, mean), throughput in MB/s and the CPU-time p99, for the
 * prompts as they are and for 1 KB and 2 KB prompts built from them, plus CheckOutput with
 * groundedness. The load average is printed: on a busy machine the wall-clock tail measures
 * the scheduler more than the checks, which the CPU-time p99 shows.
 * Not a test: it prints figures. Run: pnpm --filter @mesh/guardrails bench
 */
import { create } from "@bufbuild/protobuf";
import {
  ContentBlockSchema,
  MessageSchema,
  Role,
  RoutingHintsSchema,
} from "@mesh/contracts/common/v1/chat_pb";
import { checkInput, checkOutput } from "../src/guardrails.js";
import { DEFAULT_POLICY } from "../src/policy.js";
import { readJsonl } from "./eval-data.js";
import { cpus, loadavg } from "node:os";

const prompts = readJsonl<{ text: string }>("prompts-benign.jsonl").map((r) => r.text);

function conversation(text: string) {
  return {
    system: [],
    messages: [
      create(MessageSchema, {
        role: Role.USER,
        content: [create(ContentBlockSchema, { block: { case: "text", value: { text } } })],
      }),
    ],
  };
}

/** Prompts of about `bytes` UTF-8 bytes, each made of consecutive benign prompts. */
function sized(bytes: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < prompts.length; i += 1) {
    let text = "";
    for (let j = i; Buffer.byteLength(text) < bytes; j = (j + 1) % prompts.length) {
      text += `${prompts[j]}\n\n`;
    }
    out.push(text.slice(0, bytes));
  }
  return out;
}

const us = (micros: number) => `${micros.toFixed(1).padStart(7)} µs`;

/**
 * Wall-clock time per call, and CPU time per call (process.cpuUsage: the time this process
 * ran, which other processes on a busy machine do not inflate; GC helper threads count).
 */
function measure(name: string, texts: string[], run: (text: string) => unknown): void {
  for (let round = 0; round < 3; round += 1) for (const t of texts) run(t);

  const wall: number[] = [];
  const cpu: number[] = [];
  let bytes = 0;
  for (let round = 0; round < 5; round += 1) {
    for (const t of texts) {
      const cpuStarted = process.cpuUsage();
      const started = process.hrtime.bigint();
      run(t);
      wall.push(Number(process.hrtime.bigint() - started) / 1000);
      const used = process.cpuUsage(cpuStarted);
      cpu.push(used.user + used.system);
      bytes += Buffer.byteLength(t);
    }
  }

  const total = wall.reduce((a, b) => a + b, 0);
  const mbPerSecond = bytes / 1e6 / (total / 1e6);
  console.log(
    `${name.padEnd(34)} p50 ${us(quantile(wall, 0.5))}  p90 ${us(quantile(wall, 0.9))}` +
      `  p99 ${us(quantile(wall, 0.99))}  mean ${us(total / wall.length)}` +
      `  ${mbPerSecond.toFixed(1).padStart(6)} MB/s  | CPU p99 ${us(quantile(cpu, 0.99))}`,
  );
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

const input = (text: string) => checkInput(conversation(text), DEFAULT_POLICY);
const sources = [{ id: "s1", text: prompts.slice(0, 3).join(" ") }];
const hints = create(RoutingHintsSchema, { requiresFactual: true, sources });
const output = (text: string) =>
  checkOutput(
    { content: [create(ContentBlockSchema, { block: { case: "text", value: { text } } })], hints },
    DEFAULT_POLICY,
  );

const median = [...prompts].sort((a, b) => a.length - b.length)[prompts.length >> 1]?.length;
console.log(
  `guardrails bench: ${prompts.length} benign prompts (median ${median} chars), ` +
    `Node ${process.version}, load average ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores\n`,
);
measure("CheckInput, benign prompts as is", prompts, input);
measure("CheckInput, 1 KB prompts", sized(1024), input);
measure("CheckInput, 2 KB prompts", sized(2048), input);
measure("CheckOutput + groundedness, 1 KB", sized(1024), output);
