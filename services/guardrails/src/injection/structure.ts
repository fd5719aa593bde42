/**
 * Signals read from a text's layout rather than its words, on the original text (case
 * matters here, and folding would lose it).
 */

import type { SignalHit } from "./score.js";

// The last line is a speaker's name and a colon, waiting for the model to write the line.
const OPEN_TURN = /(?:^|\n)[ \t]*(\p{Lu}\p{Ll}{1,20}):[ \t]*$/u;
// An earlier line that a named speaker already said.
const SPOKEN_TURN = /(?:^|\n)[ \t]*\p{Lu}\p{Ll}{1,20}:[ \t]*\S/u;
// Labels of ordinary tasks ("Translate to French:", "Answer:") are not speakers.
const TASK_LABELS = new Set([
  "answer", "output", "response", "result", "solution", "summary", "translation", "example",
  "input", "question", "text", "note", "label", "category", "sentiment", "explanation",
  "reply", "title", "headline", "code", "query", "class", "antwort", "ausgabe", "frage",
  "reponse", "respuesta", "risposta", "resposta", "assistant", "user", "ai", "bot",
]);

/**
 * A dialogue that ends on a named speaker's open turn, so the model writes that character's
 * next line: the usual wrapper that gets a forbidden answer out of "two actors in a film".
 */
export function scriptCompletion(text: string): SignalHit | undefined {
  const tail = text.length > 400 ? text.slice(-400) : text;
  const open = OPEN_TURN.exec(tail.trimEnd());
  if (!open || TASK_LABELS.has((open[1] as string).toLowerCase())) return undefined;

  const before = text.slice(0, text.length - tail.length + open.index);
  if (!SPOKEN_TURN.test(before)) return undefined;

  const start = text.length - tail.length + open.index + (open[0].startsWith("\n") ? 1 : 0);
  return {
    id: "script_completion",
    family: "jailbreak_persona",
    weight: 0.3,
    framing: false,
    start,
    end: start + (open[1] as string).length + 1,
  };
}
