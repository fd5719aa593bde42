import { GuardrailAction } from "@mesh/contracts/common/v1/chat_pb";
import type { FindingAction, PiiAction } from "./policy.js";

export { GuardrailAction };

/** Which stage of a request a verdict belongs to. */
export type Stage = "input" | "output";

/** The checks this service runs; each names the module that implements it. */
export type CheckName = "pii" | "injection" | "content" | "groundedness" | "schema";

/**
 * Where one piece of text sits in a request. Input: "message" is
 * messages[messageIndex].content[blockIndex] (and, for a tool_result block, its
 * content[innerIndex]); "system" is system[blockIndex]. Output: "content" is content[blockIndex].
 */
export interface TextLocation {
  part: "message" | "system" | "content";
  messageIndex: number;
  blockIndex: number;
  innerIndex: number;
}

/** A finding's place: a location plus UTF-16 offsets into that text, end exclusive. */
export interface VerdictSpan extends TextLocation {
  start: number;
  end: number;
}

/**
 * The outcome of one check, shaped like common.v1.GuardrailVerdict so it can be sent as is.
 * `passed` is true only when the check found nothing; `action` says what the mesh does about
 * a finding. It never holds the checked text or a found value.
 */
export interface Verdict {
  check: CheckName;
  passed: boolean;
  action: GuardrailAction;
  category: string;
  /** Risk in [0, 1]: 0 is clean, 1 is certain. */
  score: number;
  spans: VerdictSpan[];
  reason: string;
  stage: Stage;
}

/** Maps a policy action to the wire enum. */
export function toGuardrailAction(action: FindingAction | PiiAction): GuardrailAction {
  switch (action) {
    case "allow":
      return GuardrailAction.ALLOW;
    case "redact":
      return GuardrailAction.REDACT;
    case "block":
      return GuardrailAction.BLOCK;
    case "flag":
      return GuardrailAction.FLAG;
  }
}

/** A verdict saying a check ran and found nothing. */
export function cleanVerdict(check: CheckName, stage: Stage, reason: string): Verdict {
  return {
    check,
    passed: true,
    action: GuardrailAction.ALLOW,
    category: "",
    score: 0,
    spans: [],
    reason,
    stage,
  };
}

/** True when a verdict stops the request or answer. */
export function blocks(verdict: Verdict): boolean {
  return verdict.action === GuardrailAction.BLOCK;
}

/** Rounds a score for the wire so verdicts stay stable and readable. */
export function roundScore(score: number): number {
  return Math.round(Math.min(1, Math.max(0, score)) * 1000) / 1000;
}
