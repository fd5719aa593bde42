import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where the shared evaluation data lives: GUARDRAILS_EVAL_DIR, else ../shared/eval relative
 * to the repository root.
 */
export function evalDir(): string {
  if (process.env.GUARDRAILS_EVAL_DIR) return resolve(process.env.GUARDRAILS_EVAL_DIR);

  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
  return resolve(repoRoot, "../shared/eval");
}

/** Reads a JSON Lines file of the evaluation set, one object per non-empty line. */
export function readJsonl<T>(name: string): T[] {
  const path = resolve(evalDir(), name);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new Error(`cannot read ${path}; set GUARDRAILS_EVAL_DIR to the folder holding ${name}`);
  }
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as T);
}

/** Formats a ratio for a table; "-" when there was nothing to measure. */
export function ratio(numerator: number, denominator: number): string {
  return denominator === 0 ? "    -" : (numerator / denominator).toFixed(3);
}
