import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function hasPromtool(): boolean {
  try {
    execFileSync("promtool", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// promtool comes from Debian's prometheus package; without it this suite shows as skipped.
describe.skipIf(!hasPromtool())("prometheus rules", () => {
  it("pass promtool check rules and every alert's unit tests", () => {
    const script = join(ROOT, "deploy", "prometheus", "check.sh");

    // execFileSync throws on a non-zero exit, with promtool's report in the error.
    const out = execFileSync("bash", [script], { encoding: "utf8", stdio: "pipe" });

    expect(out).toContain("SUCCESS: 6 rules found");
    expect(out).toContain("SUCCESS: 18 rules found");
    for (const file of [
      "breaker-open",
      "daily-cost",
      "dashboard-figures",
      "error-rate",
      "guardrail-blocks",
      "latency",
      "panels",
    ]) {
      expect(out).toMatch(new RegExp(`Unit Testing:\\s+tests/${file}\\.yml\\s+SUCCESS`));
    }
  });
});
