import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SHUTDOWN = fileURLToPath(new URL("./shutdown.ts", import.meta.url));

// The child reports its pid, then waits; exitWithParent ends it once its parent is gone.
const CHILD = `
import { exitWithParent } from ${JSON.stringify(SHUTDOWN)};
exitWithParent(() => process.exit(0), 50);
console.log(process.pid);
setInterval(() => undefined, 1_000);
`;
// The parent starts the child and passes its pid line on; it is then killed with SIGKILL,
// so it cannot pass any signal on.
const PARENT = `
const { spawn } = require("node:child_process");
const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", ${
  JSON.stringify(CHILD)
}], { stdio: ["ignore", "pipe", "inherit"] });
child.stdout.pipe(process.stdout);
setInterval(() => undefined, 1_000);
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("exitWithParent", () => {
  it("ends a process whose parent was killed without passing a signal on", async () => {
    const parent = spawn(process.execPath, ["-e", PARENT], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const [line] = (await once(parent.stdout, "data")) as [Buffer];
    const childPid = Number(line.toString().trim());
    expect(alive(childPid)).toBe(true);

    parent.kill("SIGKILL");
    const deadline = Date.now() + 5_000;
    while (alive(childPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const survived = alive(childPid);
    if (survived) process.kill(childPid, "SIGKILL");

    expect(survived).toBe(false);
  });
});
