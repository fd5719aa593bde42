import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { resolveLedgerDataDir } from "./embedded-postgres.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");

describe("resolveLedgerDataDir", () => {
  it("defaults to .data/ledger at the repository root, whatever the working directory", () => {
    expect(resolveLedgerDataDir(undefined)).toBe(`${repoRoot}/.data/ledger`);
  });

  it("resolves a relative LEDGER_DATA_DIR from the repository root", () => {
    expect(resolveLedgerDataDir("tmp/ledger-a")).toBe(`${repoRoot}/tmp/ledger-a`);
  });

  it("keeps an absolute LEDGER_DATA_DIR as given", () => {
    expect(resolveLedgerDataDir("/var/lib/ledger")).toBe("/var/lib/ledger");
  });
});
