/**
 * How providers say "the prompt plus max_tokens does not fit the context window". Each
 * words it differently, and several self-hosted servers answer 422 or even 500:
 *
 * - Anthropic: "prompt is too long: 210000 tokens > 200000 maximum", "input length and
 *   `max_tokens` exceed context limit: 197626 + 8192 > 200000"
 * - OpenAI (code context_length_exceeded), vLLM: "This model's maximum context length is
 *   8192 tokens. However, you requested ..."
 * - vLLM (older): "The prompt (total length 9000) is too long to fit into the model"
 * - Ollama: "the input length exceeds the context length"
 * - llama.cpp server (type exceed_context_size_error): "request (9000 tokens) exceeds the
 *   available context size (8192 tokens)"
 * - TGI: "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 8192"
 */
const CONTEXT_LENGTH_TEXT = new RegExp(
  [
    "prompt is too long",
    "exceeds? (the )?context (limit|length|window)",
    "maximum context length",
    "context[ _]length[ _]exceeded",
    "too long to fit into the model",
    "exceeds the available context size",
    "input length exceeds the context length",
    "`inputs` tokens \\+ `max_new_tokens` must be",
    "context window",
    "too many tokens",
  ].join("|"),
  "i",
);

const CONTEXT_LENGTH_CODES = new Set(["context_length_exceeded", "exceed_context_size_error"]);

/** True when an error's message, code or type says the request exceeds the context window. */
export function isContextLengthError(
  message: string,
  code?: unknown,
  type?: unknown,
): boolean {
  if (typeof code === "string" && CONTEXT_LENGTH_CODES.has(code)) return true;
  if (typeof type === "string" && CONTEXT_LENGTH_CODES.has(type)) return true;
  return CONTEXT_LENGTH_TEXT.test(message);
}
