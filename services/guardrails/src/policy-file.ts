/**
 * Per-tenant policies from a file (GUARDRAILS_POLICY_FILE, JSON or YAML): a default policy
 * and one per tenant, each a partial policy laid over the one below it (built-in defaults ←
 * environment ← file default ← tenant). Unknown keys are errors, so a typo never silently
 * weakens a policy.
 *
 * ```yaml
 * default:
 *   pii: { action: redact }          # every type; API_KEY too unless set below
 *   injection: { threshold: 0.5 }
 * tenants:
 *   acme:
 *     pii: { EMAIL: block, PERSON: allow }
 *     content: { violence: { action: block } }
 *     fail_open: true
 * ```
 */

import { readFileSync } from "node:fs";
import { z } from "@mesh/config";
import { parse as parseYaml } from "yaml";
import {
  CONTENT_CATEGORIES,
  freezePolicy,
  PII_TYPES,
  type ContentCategory,
  type GuardrailPolicy,
  type PiiAction,
  type PiiType,
} from "./policy.js";

const piiAction = z.enum(["allow", "redact", "block"]);
const findingAction = z.enum(["allow", "flag", "block"]);
const score = z.number().min(0).max(1);
const scored = z.object({ threshold: score.optional(), action: findingAction.optional() }).strict();

// Built from the type lists; the casts give zod the keys the lists hold.
const piiShape = Object.fromEntries(PII_TYPES.map((t) => [t, piiAction.optional()])) as Record<
  PiiType,
  z.ZodOptional<typeof piiAction>
>;
const contentShape = Object.fromEntries(
  CONTENT_CATEGORIES.map((c) => [c, scored.optional()]),
) as Record<ContentCategory, z.ZodOptional<typeof scored>>;

const partialPolicy = z
  .object({
    // "action" sets every type at once; a type's own key wins over it.
    pii: z.object({ action: piiAction.optional(), ...piiShape }).strict().optional(),
    injection: scored.optional(),
    content: z.object(contentShape).strict().optional(),
    groundedness: z
      .object({ min_word_support: score.optional(), action: findingAction.optional() })
      .strict()
      .optional(),
    schema: z.object({ action: findingAction.optional() }).strict().optional(),
    phone_region: z.string().regex(/^[A-Za-z]{2}$/, "use a two-letter country code").optional(),
    restore_originals: z.boolean().optional(),
    model_check: z.boolean().optional(),
    fail_open: z.boolean().optional(),
  })
  .strict();

const policyFile = z
  .object({
    default: partialPolicy.optional(),
    tenants: z.record(z.string().min(1), partialPolicy).optional(),
  })
  .strict();

type ScoredPatch = z.infer<typeof scored>;

/** One tenant's policy changes, as written in the file. */
export type PartialPolicy = z.infer<typeof partialPolicy>;

/** Picks the policy for a request's tenant. */
export type PolicyResolver = (tenant: string) => GuardrailPolicy;

/** Lays a partial policy over a full one and returns the frozen result. */
export function applyPartial(base: GuardrailPolicy, patch: PartialPolicy): GuardrailPolicy {
  const piiPatch: Partial<Record<PiiType | "action", PiiAction>> = patch.pii ?? {};
  const contentPatch: Partial<Record<ContentCategory, ScoredPatch>> = patch.content ?? {};

  const pii = { ...base.pii } as Record<PiiType, PiiAction>;
  for (const t of PII_TYPES) {
    const action = piiPatch[t] ?? piiPatch.action;
    if (action) pii[t] = action;
  }

  const content = { ...base.content };
  for (const c of CONTENT_CATEGORIES) {
    const rule = contentPatch[c];
    if (rule) content[c] = { ...content[c], ...definedOnly(rule) };
  }

  return freezePolicy({
    pii,
    injection: { ...base.injection, ...definedOnly(patch.injection ?? {}) },
    content,
    groundedness: {
      minWordSupport: patch.groundedness?.min_word_support ?? base.groundedness.minWordSupport,
      action: patch.groundedness?.action ?? base.groundedness.action,
    },
    schema: { action: patch.schema?.action ?? base.schema.action },
    phoneRegion: patch.phone_region?.toUpperCase() ?? base.phoneRegion,
    restoreOriginals: patch.restore_originals ?? base.restoreOriginals,
    modelCheck: patch.model_check ?? base.modelCheck,
    failOpen: patch.fail_open ?? base.failOpen,
  });
}

/**
 * Parses a policy file's text (YAML, which JSON is a subset of) into a resolver over the
 * given base policy. Throws one message listing every problem, naming the file.
 */
export function parsePolicyFile(
  text: string,
  base: GuardrailPolicy,
  source = "policy file",
): PolicyResolver {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new Error(`${source} is not valid JSON or YAML: ${(err as Error).message}`);
  }

  const parsed = policyFile.safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `  ${issue.path.join(".") || "(file)"}: ${issue.message}`)
      .join("\n");
    throw new Error(`invalid ${source}, fix these entries:\n${problems}`);
  }

  const fallback = applyPartial(base, parsed.data.default ?? {});
  const tenants = new Map<string, GuardrailPolicy>();
  for (const [tenant, patch] of Object.entries(parsed.data.tenants ?? {})) {
    tenants.set(tenant, applyPartial(fallback, patch));
  }
  return (tenant) => tenants.get(tenant) ?? fallback;
}

/** Reads GUARDRAILS_POLICY_FILE; the message says which file could not be read. */
export function loadPolicyFile(path: string, base: GuardrailPolicy): PolicyResolver {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read GUARDRAILS_POLICY_FILE ${path}: ${(err as Error).message}`);
  }
  return parsePolicyFile(text, base, `GUARDRAILS_POLICY_FILE ${path}`);
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
