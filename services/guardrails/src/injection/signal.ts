/**
 * The shape of an injection signal and the helpers that build one. Shared by the rule
 * modules (signals.ts for English and the common cross-language markers, multilingual.ts
 * for phrasings in other languages).
 */

import type { Trigger } from "../vocabulary.js";

/** The families signals belong to; a verdict's reason names the families that fired. */
export type SignalFamily =
  | "instruction_override"
  | "new_instructions"
  | "role_impersonation"
  | "prompt_extraction"
  | "jailbreak_persona"
  | "policy_evasion"
  | "markup_injection"
  | "encoded_payload";

/** One weighted pattern. `view` says which folded copy it runs on. */
export interface Signal {
  id: string;
  family: SignalFamily;
  /** Contribution in (0, 1); signals combine as independent evidence (noisy-OR). */
  weight: number;
  re: RegExp;
  /** "latin" runs on the look-alike-folded copy; "script" on the copy that keeps scripts. */
  view: "latin" | "script";
  /** When set, a negation just before the match ("do not ignore…") cancels it. */
  negatable?: boolean;
  /**
   * Role-play framing (personas, "stay in character", fiction). Harmless role-play uses the
   * same words, so framing signals together add at most FRAMING_CAP: they raise a score that
   * other evidence started but never block on their own.
   */
  framing?: boolean;
  /** Trigger groups that must all be present for the pattern to run (see TRIGGERS). */
  triggers?: Trigger[][];
}

/** The most that framing signals together add to a score. */
export const FRAMING_CAP = 0.45;

/** A signal matched on the look-alike-folded copy (Latin script, leetspeak read). */
export function latin(
  id: string,
  family: SignalFamily,
  weight: number,
  source: string,
  negatable = false,
  framing = false,
): Signal {
  return { id, family, weight, re: new RegExp(source), view: "latin", negatable, framing };
}

/** A signal matched on the copy that keeps every script (Cyrillic, CJK...). */
export function script(id: string, family: SignalFamily, weight: number, source: string): Signal {
  return { id, family, weight, re: new RegExp(source, "u"), view: "script" };
}
