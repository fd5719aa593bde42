import type { GuardrailsConfig } from "./config.js";

/** The kinds of personal data and secrets the PII check finds; each names its placeholder. */
export type PiiType =
  | "EMAIL"
  | "PHONE"
  | "CREDIT_CARD"
  | "US_SSN"
  | "IBAN"
  | "IP_ADDRESS"
  | "API_KEY"
  | "PERSON"
  | "ADDRESS";

/** Every PII type, in the order verdicts list them. */
export const PII_TYPES: readonly PiiType[] = [
  "EMAIL",
  "PHONE",
  "CREDIT_CARD",
  "US_SSN",
  "IBAN",
  "IP_ADDRESS",
  "API_KEY",
  "PERSON",
  "ADDRESS",
];

/** What the PII check does with a value of one type. */
export type PiiAction = "allow" | "redact" | "block";

/** Content policy categories. */
export type ContentCategory = "violence" | "self_harm" | "sexual_minors" | "hate" | "weapons";

/** Every content category, in the order verdicts list them. */
export const CONTENT_CATEGORIES: readonly ContentCategory[] = [
  "violence",
  "self_harm",
  "sexual_minors",
  "hate",
  "weapons",
];

/** What a check does when its score reaches the threshold. */
export type FindingAction = "allow" | "flag" | "block";

/** A threshold and the action taken at or above it. */
export interface ScoredRule {
  threshold: number;
  action: FindingAction;
}

/**
 * Everything the checks need to decide: passed to each check, never read from globals, so a
 * per-tenant policy can replace the defaults without touching the checks.
 */
export interface GuardrailPolicy {
  pii: Readonly<Record<PiiType, PiiAction>>;
  injection: Readonly<ScoredRule>;
  content: Readonly<Record<ContentCategory, ScoredRule>>;
  groundedness: Readonly<{
    /** Share of a sentence's content words that must occur in the sources. */
    minWordSupport: number;
    action: FindingAction;
  }>;
  /** Region for phone numbers written without a country code. */
  phoneRegion: string;
  /** What to do with an answer that does not match the request's JSON schema. */
  schema: Readonly<{ action: FindingAction }>;
  /** Put this request's original values back where the answer repeats a placeholder. */
  restoreOriginals: boolean;
  /** Ask a fast model about injection scores near the threshold (when the service has one). */
  modelCheck: boolean;
  /**
   * Let requests through when the guardrails service is unreachable. The service only
   * reports it (CheckInputResponse.fail_open); the gateway applies it.
   */
  failOpen: boolean;
}

/** The built-in defaults: redact PII and secrets, block injection, minors and weapons. */
export const DEFAULT_POLICY: GuardrailPolicy = freezePolicy({
  pii: {
    EMAIL: "redact",
    PHONE: "redact",
    CREDIT_CARD: "redact",
    US_SSN: "redact",
    IBAN: "redact",
    IP_ADDRESS: "redact",
    API_KEY: "redact",
    PERSON: "redact",
    ADDRESS: "redact",
  },
  injection: { threshold: 0.5, action: "block" },
  content: {
    violence: { threshold: 0.6, action: "flag" },
    self_harm: { threshold: 0.6, action: "flag" },
    sexual_minors: { threshold: 0.6, action: "block" },
    hate: { threshold: 0.6, action: "flag" },
    weapons: { threshold: 0.6, action: "block" },
  },
  groundedness: { minWordSupport: 0.6, action: "flag" },
  phoneRegion: "US",
  schema: { action: "flag" },
  restoreOriginals: true,
  modelCheck: true,
  failOpen: false,
});

/** Builds the service-wide default policy from the environment settings. */
export function policyFromConfig(config: GuardrailsConfig): GuardrailPolicy {
  const piiAction = config.GUARDRAILS_PII_ACTION;
  const pii = Object.fromEntries(
    PII_TYPES.map((type) => [
      type,
      type === "API_KEY" ? config.GUARDRAILS_SECRET_ACTION : piiAction,
    ]),
  ) as Record<PiiType, PiiAction>;


  return freezePolicy({
    ...DEFAULT_POLICY,
    pii,
    injection: { ...DEFAULT_POLICY.injection, threshold: config.GUARDRAILS_INJECTION_THRESHOLD },
    phoneRegion: config.GUARDRAILS_PHONE_REGION,
  });
}

/** Freezes a policy and its parts, so no check can change a shared policy by accident. */
export function freezePolicy(policy: GuardrailPolicy): GuardrailPolicy {
  return Object.freeze({
    ...policy,
    pii: Object.freeze({ ...policy.pii }),
    injection: Object.freeze({ ...policy.injection }),
    content: Object.freeze({ ...policy.content }),
    groundedness: Object.freeze({ ...policy.groundedness }),
    schema: Object.freeze({ ...policy.schema }),
  });
}
