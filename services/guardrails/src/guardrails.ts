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
import { checkSchema } from "./checks/schema.js";
import { releasableEnd } from "./checks/stream-hold.js";
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
import {
  blocks,
  GuardrailAction,
  type Stage,
  type Verdict,
  type VerdictSpan,
} from "./verdict.js";

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
  /** The answer with leaks redacted and this request's placeholders restored. */
  content: ContentBlock[];
  /** How many placeholders were replaced by their original values. */
  restored: number;
}

/** A model's answer and what the request asked of it. */
export interface OutputToCheck {
  content: readonly ContentBlock[];
  hints?: RoutingHints | undefined;
  /** ChatParams.response_format_json of the request; a JSON schema there is enforced. */
  responseFormatJson?: string;
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
 * Checks a model's answer: PII leaks, content policy, groundedness in the sources when the
 * hints ask for factual answers, and the JSON schema when one was requested. `state` is the
 * request's placeholder mapping (from CheckInput): values the answer leaks get placeholders
 * numbered after the request's, then placeholders of this request are put back as their
 * original values where the policy allows it (never values from another request).
 */
export function checkOutput(
  output: OutputToCheck,
  policy: GuardrailPolicy,
  state?: Redactor,
): OutputCheck {
  const segments = outputSegments(output.content);
  const prepared = prepareAll(segments);

  const redactor = state ? Redactor.fromSnapshot(state.snapshot()) : new Redactor();
  const pii = checkPii(segments, "output", policy, redactor);
  const content = checkContent(segments, prepared, "output", policy);
  const grounded = checkGroundedness(
    segments,
    output.hints?.requiresFactual ?? false,
    output.hints?.sources ?? [],
    "output",
    policy,
  );
  const schema = checkSchema(segments, output.responseFormatJson ?? "", "output", policy);
  const verdicts = [
    ...pii.verdicts,
    ...content,
    ...(grounded ? [grounded] : []),
    ...(schema ? [schema] : []),
  ];

  const rewrites = new Map(pii.rewrites);
  let restored = 0;
  if (state && policy.restoreOriginals) {
    segments.forEach((segment, index) => {
      const text = rewrites.get(index) ?? segment.text;
      const count = state.countRestorable(text);
      if (count === 0) return;
      // Tool arguments are JSON: a restored value must stay a valid JSON string.
      const escape = segment.kind === "tool_use" ? jsonStringBody : undefined;
      rewrites.set(index, state.restore(text, escape));
      restored += count;
    });
  }

  annotateSpan("output", verdicts, segments.length, uncheckedBlocks(output.content), restored);
  return {
    allowed: !verdicts.some(blocks),
    verdicts,
    content: rewriteOutput(output.content, segments, rewrites),
    restored,
  };
}

/** Held-back text of one streamed content block, as the gateway sends it. */
export interface ChunkToCheck {
  blockIndex: number;
  /** UTF-16 units of the block already released before heldText. */
  releasedChars: number;
  heldText: string;
  /** No more text follows for this block. */
  final: boolean;
  hints?: RoutingHints | undefined;
  /**
   * ChunkCheck.answer of the previous chunk check of this answer (any block); absent for the
   * first. Values leaked in earlier chunks keep their placeholders and new ones are numbered
   * after them, as in one check of the whole answer.
   */
  answer?: Redactor | undefined;
}

/** What may leave the gateway's buffer, or that the stream must stop. */
export interface ChunkCheck {
  allowed: boolean;
  verdicts: Verdict[];
  /** UTF-16 units at the start of heldText that were checked (0 when not allowed). */
  consumedChars: number;
  /** What to send in place of heldText[0, consumedChars). */
  releaseText: string;
  restored: number;
  /**
   * Every placeholder handed out for this answer so far, the request's own included: pass it
   * as ChunkToCheck.answer to the next chunk check. Never used to restore values: only the
   * request's own placeholders are put back, never a value the answer leaked.
   */
  answer: Redactor;
}

/**
 * Checks the complete sentences of a streamed block's held-back text (all of it when final):
 * PII leaks, content policy and groundedness, as for a whole answer. A sentence is released
 * only once checked; when a verdict blocks, nothing is released and the stream must stop, so
 * the offending sentence never reaches the caller. Spans count in the block from its start.
 * Sentences are held while a value may still span the cut (an open PEM block, a credential
 * label awaiting its value, a value running up to the cut), so the released text is redacted
 * as the whole answer would be. Stateless: the gateway keeps the buffer and passes `answer`
 * (sealed) from call to call, so any replica can answer any call.
 */
export function checkOutputChunk(
  chunk: ChunkToCheck,
  policy: GuardrailPolicy,
  state?: Redactor,
): ChunkCheck {
  const held = chunk.heldText;
  const cut = chunk.final ? held.length : releasableEnd(held, policy.phoneRegion);
  // A copy: the caller's redactor stays as it was, whatever this call hands out.
  const base = chunk.answer ?? state;
  const redactor = base ? Redactor.fromSnapshot(base.snapshot()) : new Redactor();
  if (cut === 0) {
    return {
      allowed: true,
      verdicts: [],
      consumedChars: 0,
      releaseText: "",
      restored: 0,
      answer: redactor,
    };
  }

  const text = held.slice(0, cut);
  const location: Segment["location"] = {
    part: "content",
    messageIndex: 0,
    blockIndex: chunk.blockIndex,
    innerIndex: 0,
  };
  const segments: Segment[] = [{ location, text, kind: "text" }];
  const prepared = prepareAll(segments);

  const pii = checkPii(segments, "output", policy, redactor);
  const content = checkContent(segments, prepared, "output", policy);
  const grounded = checkGroundedness(
    segments,
    chunk.hints?.requiresFactual ?? false,
    chunk.hints?.sources ?? [],
    "output",
    policy,
  );
  const verdicts = [...pii.verdicts, ...content, ...(grounded ? [grounded] : [])].map((v) =>
    shiftSpans(v, chunk.releasedChars),
  );

  const allowed = !verdicts.some(blocks);
  annotateSpan("output", verdicts, 1, 0, 0);
  if (!allowed) {
    return { allowed, verdicts, consumedChars: 0, releaseText: "", restored: 0, answer: redactor };
  }

  let releaseText = pii.rewrites.get(0) ?? text;
  let restored = 0;
  if (state && policy.restoreOriginals) {
    restored = state.countRestorable(releaseText);
    releaseText = state.restore(releaseText);
  }
  return { allowed, verdicts, consumedChars: cut, releaseText, restored, answer: redactor };
}

function shiftSpans(verdict: Verdict, by: number): Verdict {
  if (by === 0 || verdict.spans.length === 0) return verdict;
  const spans: VerdictSpan[] = verdict.spans.map((s) => ({
    ...s,
    start: s.start + by,
    end: s.end + by,
  }));
  return { ...verdict, spans };
}

function jsonStringBody(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

// Folding is shared by the injection and content checks; JSON arguments are matched too.
function prepareAll(segments: readonly Segment[]): (PreparedText | undefined)[] {
  return segments.map((s) => (s.text.length > 0 ? prepareText(s.text) : undefined));
}

/**
 * Puts counts and categories on the active span (the gRPC server span): never text, values
 * or offsets. One event per finding keeps the trace readable in Jaeger.
 */
function annotateSpan(
  stage: Stage,
  verdicts: readonly Verdict[],
  texts: number,
  skipped: number,
  restored = 0,
) {
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
    "guardrails.pii.restored": restored,
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
