import { describe, expect, it } from "vitest";
import { parsePolicyFile } from "./policy-file.js";
import { DEFAULT_POLICY } from "./policy.js";

const FILE = `
default:
  pii: { action: redact, API_KEY: block }
  injection: { threshold: 0.6 }
tenants:
  acme:
    pii: { EMAIL: block, PERSON: allow }
    content: { violence: { action: block } }
    fail_open: true
  lab:
    injection: { threshold: 0.9, action: flag }
    restore_originals: false
    phone_region: gb
`;

describe("parsePolicyFile", () => {
  it("lays the file's default and each tenant over the base policy", () => {
    const policyFor = parsePolicyFile(FILE, DEFAULT_POLICY);

    const acme = policyFor("acme");
    const lab = policyFor("lab");
    const other = policyFor("someone-else");

    expect([acme.pii.EMAIL, acme.pii.PERSON, acme.pii.PHONE, acme.pii.API_KEY]).toEqual([
      "block",
      "allow",
      "redact",
      "block",
    ]);
    expect([acme.content.violence, acme.content.hate, acme.failOpen]).toEqual([
      { threshold: 0.6, action: "block" },
      { threshold: 0.6, action: "flag" },
      true,
    ]);
    expect([lab.injection, lab.restoreOriginals, lab.phoneRegion, lab.failOpen]).toEqual([
      { threshold: 0.9, action: "flag" },
      false,
      "GB",
      false,
    ]);
    expect([other.injection.threshold, other.pii.API_KEY, other.pii.EMAIL]).toEqual([
      0.6,
      "block",
      "redact",
    ]);
    expect(Object.isFrozen(acme.pii)).toBe(true);
  });

  it("reads JSON too", () => {
    const policyFor = parsePolicyFile('{"tenants":{"t":{"model_check":false}}}', DEFAULT_POLICY);

    expect([policyFor("t").modelCheck, policyFor("u").modelCheck]).toEqual([false, true]);
  });

  it("lists every unknown or wrong entry with its path", () => {
    const bad = "tenants:\n  acme:\n    pii: { EMAIL: mask }\n    injection: { treshold: 2 }\n";

    expect(() => parsePolicyFile(bad, DEFAULT_POLICY, "policy.yaml")).toThrow(
      new RegExp(
        "invalid policy\\.yaml, fix these entries:\\n {2}tenants\\.acme\\.pii\\.EMAIL: .*\\n" +
          " {2}tenants\\.acme\\.injection: .*treshold",
      ),
    );
  });
});
