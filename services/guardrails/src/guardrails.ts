import type {
  ContentBlock,
  Message,
  RoutingHints,
  TextBlock,
} from "@mesh/contracts/common/v1/chat_pb";
import { trace, type Span } from "@opentelemetry/api";
import { checkContent } from "./checks/content.js";
import { checkGroundedness } from "./checks/groundedness.js";
import { checkInjection } from "./checks/injection.js";
import { checkPii } from "./checks/pii.js";
import {
  inputSegments,
  outputSegments,
  rewriteInput,
  rewriteOutput,
  uncheckedBlocks,
  type Segment,
} from "./conversation.js";
import { prepareText, type PreparedText } from "./normalize.js";
import { Redactor } from "./pii/redactor.js";
import type { GuardrailPolicy } from "./policy.js";
import { blocks, GuardrailAction, type Stage, type Verdict } from "./verdict.js";

/** The outcome of checking a request's input. */
export interface InputCheck {
  /** False when any verdict blocks. */
  allowed: boolean;
  verdicts: Verdict[];
  /** The conversation with redactions applied, whether or not it is allowed. */
  system: TextBlock[];
  messages: Message[];
  /** The placeholder mapping of this request; it can restore values in the answer. */
  redactor: Redactor;
}

/** The outcome of checking a model's answer. */
export interface OutputCheck {
  allowed: boolean;
  verdicts: Verdict[];
  /** The answer with redactions applied. */
  content: ContentBlock[];
}

/**
 * Checks a conversation before it reaches a model: PII (every system block, every message of
 * every role, text, tool_use arguments and tool_result texts), prompt injection across the
 * whole conversation, and content policy. Pure and synchronous; findings are data.
 */
export function checkInput(
  input: { system: readonly TextBlock[]; messages: readonly Message[] },
  policy: GuardrailPolicy,
  redactor = new Redactor(),
): InputCheck {
  const segments = inputSegments(input.system, input.messages);
  const prepared = prepareAll(segments);

  const pii = checkPii(segments, "input", policy, redactor);
  const injection = checkInjection(segments, prepared, "input", policy);
  const content = checkContent(segments, prepared, "input", policy);
  const verdicts = [...pii.verdicts, injection, ...content];
  const rewritten = rewriteInput(input.system, input.messages, segments, pii.rewrites);

  const skipped = input.messages.reduce((n, m) => n + uncheckedBlocks(m.content), 0);
  annotateSpan("input", verdicts, segments.length, skipped);
  return { allowed: !verdicts.some(blocks), verdicts, ...rewritten, redactor };
}

/**
 * Checks a model's answer: PII leaks (redacted with the request's redactor when given, so
 * placeholders stay consistent), content policy, and groundedness in the sources when the
 * hints ask for factual answers.
 */
export function checkOutput(
  output: { content: readonly ContentBlock[]; hints?: RoutingHints | undefined },
  policy: GuardrailPolicy,
  redactor = new Redactor(),
): OutputCheck {
  const segments = outputSegments(output.content);
  const prepared = prepareAll(segments);

  const pii = checkPii(segments, "output", policy, redactor);
  const content = checkContent(segments, prepared, "output", policy);
  const grounded = checkGroundedness(
    segments,
    output.hints?.requiresFactual ?? false,
    output.hints?.sources ?? [],
    "output",
    policy,
  );
  const verdicts = [...pii.verdicts, ...content, ...(grounded ? [grounded] : [])];

  annotateSpan("output", verdicts, segments.length, uncheckedBlocks(output.content));
  return {
    allowed: !verdicts.some(blocks),
    verdicts,
    content: rewriteOutput(output.content, segments, pii.rewrites),
  };
}

// Folding is shared by the injection and content checks; JSON arguments are matched too.
function prepareAll(segments: readonly Segment[]): (PreparedText | undefined)[] {
  return segments.map((s) => (s.text.length > 0 ? prepareText(s.text) : undefined));
}

/**
 * Puts counts and categories on the active span (the gRPC server span): never text, values
 * or offsets. One event per finding keeps the trace readable in Jaeger.
 */
function annotateSpan(stage: Stage, verdicts: readonly Verdict[], texts: number, skipped: number) {
  const span: Span | undefined = trace.getActiveSpan();
  if (!span) return;

  const findings = verdicts.filter((v) => !v.passed);
  span.setAttributes({
    "guardrails.stage": stage,
    "guardrails.texts_checked": texts,
    "guardrails.blocks_unchecked": skipped,
    "guardrails.allowed": !verdicts.some(blocks),
    "guardrails.findings": findings.length,
    "guardrails.pii.values": findings
      .filter((v) => v.check === "pii")
      .reduce((n, v) => n + v.spans.length, 0),
  });

  for (const v of verdicts) {
    if (v.check === "injection") span.setAttribute("guardrails.injection.score", v.score);
    if (v.passed) continue;
    span.addEvent("guardrails.verdict", {
      "guardrails.check": v.check,
      "guardrails.category": v.category,
      "guardrails.action": GuardrailAction[v.action] ?? "UNSPECIFIED",
      "guardrails.score": v.score,
      "guardrails.span_count": v.spans.length,
    });
  }
}
