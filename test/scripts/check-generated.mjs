// Fails when libs/contracts/src/gen differs from what `buf generate` makes of proto/ now.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const out = mkdtempSync(join(tmpdir(), "mesh-gen-"));
try {
  execFileSync("pnpm", ["exec", "buf", "generate", "-o", out], { stdio: "inherit" });
  execFileSync("diff", ["-r", join(out, "libs/contracts/src/gen"), "libs/contracts/src/gen"], {
    stdio: "inherit",
  });
  console.log("generated code is up to date with proto/");
} catch {
  console.error("generated code is stale: run `pnpm generate` and commit libs/contracts/src/gen");
  process.exitCode = 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
