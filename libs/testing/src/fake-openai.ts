import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** Token counts a scripted reply reports (the details are nested as OpenAI nests them). */
export interface FakeOpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  /** Sent as prompt_tokens_details.cached_tokens; part of prompt_tokens. */
  cached_tokens?: number;
  /** Sent as completion_tokens_details.reasoning_tokens; part of completion_tokens. */
  reasoning_tokens?: number;
}

/** A tool call of a scripted reply; object arguments are sent as their JSON text. */
export interface FakeOpenAIToolCall {
  id: string;
  name: string;
  arguments: string | Record<string, unknown>;
}

/** A successful answer, sent as JSON or as SSE depending on the request's `stream`. */
export interface FakeOpenAIReply {
  kind: "reply";
  /** Assistant text; default a short fixed sentence unless toolCalls or refusal is given. */
  text?: string;
  toolCalls?: FakeOpenAIToolCall[];
  /** A refusal (structured outputs) instead of text. */
  refusal?: string;
  /** Default: "tool_calls" with tool calls, else "stop". */
  finishReason?: string | null;
  /** vLLM's extra `stop_reason`: the stop string (or token id) that ended the answer. */
  stopReason?: string | number | null;
  /** Defaults: prompt from the request's size, completion from the reply's size. */
  usage?: Partial<FakeOpenAIUsage>;
  /** Reported model id; defaults to the request's model. */
  model?: string;
  /** Streamed text and tool arguments are cut into deltas of this many characters (default 8). */
  deltaChars?: number;
  /** SSE bytes are written in pieces of this size, to split events anywhere (default whole). */
  chunkBytes?: number;
  /** Streams only: stop after this many SSE events and destroy the connection. */
  cutAfterEvents?: number;
  /** Streams only: after this many SSE events, send `data: {"error": ...}` and end. */
  errorAfterEvents?: { events: number; message?: string; type?: string; code?: string | number };
  /** Streams only: end the body without `data: [DONE]`. */
  omitDone?: boolean;
  /** Streams only: act like a server that ignores stream_options (never sends usage). */
  ignoreStreamOptions?: boolean;
}

/** An HTTP error. The body is OpenAI's error JSON unless `body` gives another server's. */
export interface FakeOpenAIError {
  kind: "error";
  status: number;
  message?: string;
  type?: string;
  code?: string | number | null;
  /** `retry-after` header value (seconds or an HTTP date). */
  retryAfter?: string | number;
  headers?: Record<string, string>;
  /** A raw JSON body, for servers whose errors are not shaped like OpenAI's. */
  body?: unknown;
}

/** Destroys the socket without answering, as a dropped connection does. */
export interface FakeOpenAIReset {
  kind: "reset";
}

/** One scripted response; each request takes the next one, then the default reply. */
export type FakeOpenAIStep = FakeOpenAIReply | FakeOpenAIError | FakeOpenAIReset;

/** A request the fake received. */
export interface FakeOpenAIRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  receivedAt: number;
}

export interface FakeOpenAIOptions {
  /** Wait before each answer, in milliseconds (default 0). */
  latencyMs?: number;
  /** Wait between streamed events, in milliseconds (default 0). */
  eventGapMs?: number;
  /** Benchmark mode: no request recording and one canned answer per (model, stream). */
  zeroLatency?: boolean;
  /** When set, requests must carry `authorization: Bearer <apiKey>`, else 401. */
  apiKey?: string;
  /** Answer for requests with no scripted step left. */
  defaultReply?: Omit<FakeOpenAIReply, "kind">;
}

/** A running fake of the OpenAI Chat Completions API. */
export interface FakeOpenAI {
  /** Base URL including /v1, as the openai SDK's baseURL wants it. */
  readonly url: string;
  /** Every request received, in order (empty in zeroLatency mode). */
  readonly requests: FakeOpenAIRequest[];
  /** Queues responses for the next requests, in order. */
  script(...steps: FakeOpenAIStep[]): void;
  /** Scripted steps not yet used. */
  pending(): number;
  close(): Promise<void>;
}

/**
 * Context-length errors as each server words and shapes them (status and body), for tests
 * of context-length fallback: OpenAI, vLLM (current and older body shapes), Ollama,
 * llama.cpp server and Hugging Face TGI.
 */
export const CONTEXT_LENGTH_ERRORS = {
  openai: {
    kind: "error",
    status: 400,
    body: {
      error: {
        message: "This model's maximum context length is 128000 tokens. However, your " +
          "messages resulted in 130017 tokens. Please reduce the length of the messages.",
        type: "invalid_request_error",
        param: "messages",
        code: "context_length_exceeded",
      },
    },
  },
  vllm: {
    kind: "error",
    status: 400,
    body: {
      error: {
        message: "This model's maximum context length is 8192 tokens. However, you requested " +
          "9216 tokens (8192 in the messages, 1024 in the completion). Please reduce the " +
          "length of the messages or completion.",
        type: "BadRequestError",
        param: null,
        code: 400,
      },
    },
  },
  "vllm-legacy": {
    kind: "error",
    status: 400,
    body: {
      object: "error",
      message: "The prompt (total length 9000) is too long to fit into the model (context " +
        "length 8192). Make sure that `max_model_len` is no smaller than the number of text " +
        "tokens plus multimodal tokens.",
      type: "BadRequestError",
      param: null,
      code: 400,
    },
  },
  ollama: {
    kind: "error",
    status: 500,
    body: { error: { message: "the input length exceeds the context length", type: "api_error",
      param: null, code: null } },
  },
  "llama.cpp": {
    kind: "error",
    status: 400,
    body: {
      error: {
        code: 400,
        message: "request (9000 tokens) exceeds the available context size (8192 tokens), " +
          "try increasing it",
        type: "exceed_context_size_error",
        n_prompt_tokens: 9000,
        n_ctx: 8192,
      },
    },
  },
  tgi: {
    kind: "error",
    status: 422,
    body: {
      error: "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 8192. " +
        "Given: 8000 `inputs` tokens and 1024 `max_new_tokens`",
      error_type: "validation",
    },
  },
} as const satisfies Record<string, FakeOpenAIError>;

const DEFAULT_TEXT = "Hello from the fake OpenAI server.";

const ERROR_TYPES: Record<number, { type: string; code: string | null }> = {
  400: { type: "invalid_request_error", code: null },
  401: { type: "invalid_request_error", code: "invalid_api_key" },
  403: { type: "invalid_request_error", code: "unsupported_country_region_territory" },
  404: { type: "invalid_request_error", code: "model_not_found" },
  429: { type: "requests", code: "rate_limit_exceeded" },
  500: { type: "server_error", code: null },
  503: { type: "server_error", code: null },
};

/**
 * Starts a node:http server on 127.0.0.1, port 0, that speaks the OpenAI Chat Completions
 * wire format: POST /v1/chat/completions answered as JSON, or as SSE chunks ending in
 * `data: [DONE]` when the body has `stream: true`. Like OpenAI, it sends the usage chunk
 * only when the request asks with `stream_options.include_usage`. Faults are scripted per
 * request with `script(...)`.
 */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const requests: FakeOpenAIRequest[] = [];
  const queue: FakeOpenAIStep[] = [];
  const sockets = new Set<Socket>();
  const defaultReply: FakeOpenAIReply = { kind: "reply", ...options.defaultReply };

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, { error: { message: String(err) } });
      else res.destroy();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (req.method !== "POST" || path !== "/v1/chat/completions") {
      return sendError(res, 404, openAIError(`no route for ${req.method} ${path}`, 404));
    }

    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return sendError(res, 400, openAIError("request body is not valid JSON", 400));
    }

    if (!options.zeroLatency) {
      requests.push({ method: req.method, path, headers: flatten(req), body,
        receivedAt: Date.now() });
    }
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendError(res, 401, openAIError("Incorrect API key provided.", 401));
    }

    const step = queue.shift() ?? defaultReply;
    if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs));

    if (step.kind === "reset") {
      req.socket.destroy();
      return;
    }
    if (step.kind === "error") {
      const headers: Record<string, string> = { ...step.headers };
      if (step.retryAfter !== undefined) headers["retry-after"] = String(step.retryAfter);
      const errorBody = step.body ??
        openAIError(step.message ?? `status ${step.status}`, step.status, step.type, step.code);
      return sendError(res, step.status, errorBody, headers);
    }

    if (options.zeroLatency && step === defaultReply) return sendCanned(res, body);

    const reply = build(step, body);
    if (body.stream === true) return stream(res, reply, step, wantsUsage(body));

    const text = JSON.stringify(completion(reply));
    res.writeHead(200, { "content-type": "application/json",
      "content-length": Buffer.byteLength(text), "x-request-id": `req_${reply.id}` });
    res.end(text);
  }

  async function stream(res: ServerResponse, reply: Built, step: FakeOpenAIReply, usage: boolean) {
    let events = chunks(reply, step.deltaChars ?? 8, usage && !step.ignoreStreamOptions)
      .map((c) => JSON.stringify(c));
    let cut = false;
    let done = !step.omitDone;
    if (step.errorAfterEvents) {
      const { events: count, message, type, code } = step.errorAfterEvents;
      events = events.slice(0, count);
      events.push(JSON.stringify({ error: { message: message ?? "the server had an error",
        type: type ?? "server_error", param: null, code: code ?? null } }));
      done = false;
    } else if (step.cutAfterEvents !== undefined) {
      events = events.slice(0, step.cutAfterEvents);
      cut = true;
      done = false;
    }
    if (done) events.push("[DONE]");

    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache",
      "x-request-id": `req_${reply.id}` });
    const gap = options.eventGapMs ?? 0;
    const payloads = gap > 0
      ? events.map((e) => Buffer.from(`data: ${e}\n\n`))
      : [Buffer.from(events.map((e) => `data: ${e}\n\n`).join(""))];

    for (const payload of payloads) {
      const size = step.chunkBytes ?? payload.length;
      for (let offset = 0; offset < payload.length; offset += size) {
        if (res.destroyed) return;
        res.write(payload.subarray(offset, offset + size));
        // A macrotask between pieces makes each one its own network read on the client side.
        if (size < payload.length) await new Promise((r) => setImmediate(r));
      }
      if (gap > 0) await new Promise((r) => setTimeout(r, gap));
    }

    if (!cut) return void res.end();
    // Let the bytes written so far reach the client, then drop the connection mid-answer.
    await new Promise<void>((resolve) => res.write("", () => resolve()));
    await new Promise((r) => setTimeout(r, 10));
    res.socket?.destroy();
  }

  // Benchmark answers are built once per (model, stream, usage) and replayed byte for byte.
  const canned = new Map<string, { buffer: Buffer; contentType: string }>();
  function sendCanned(res: ServerResponse, body: Record<string, unknown>): void {
    const streamed = body.stream === true;
    const key = `${String(body.model)}|${streamed}|${wantsUsage(body)}`;
    let entry = canned.get(key);
    if (!entry) {
      const reply = build(defaultReply, body);
      entry = streamed
        ? {
          buffer: Buffer.from(
            [...chunks(reply, 8, wantsUsage(body)).map((c) => JSON.stringify(c)), "[DONE]"]
              .map((e) => `data: ${e}\n\n`).join(""),
          ),
          contentType: "text/event-stream",
        }
        : { buffer: Buffer.from(JSON.stringify(completion(reply))),
          contentType: "application/json" };
      canned.set(key, entry);
    }

    res.writeHead(200, { "content-type": entry.contentType,
      "content-length": entry.buffer.length });
    res.end(entry.buffer);
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    script: (...steps) => {
      queue.push(...steps);
    },
    pending: () => queue.length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Built {
  id: string;
  created: number;
  model: string;
  text: string | null;
  refusal: string | null;
  toolCalls: Array<{ id: string; name: string; arguments: string }>;
  finishReason: string | null;
  stopReason: string | number | null | undefined;
  usage: Record<string, unknown>;
}

function build(step: FakeOpenAIReply, body: Record<string, unknown>): Built {
  const toolCalls = (step.toolCalls ?? []).map((t) => ({
    id: t.id,
    name: t.name,
    arguments: typeof t.arguments === "string" ? t.arguments : JSON.stringify(t.arguments),
  }));
  const text = step.text ??
    (toolCalls.length > 0 || step.refusal !== undefined ? null : DEFAULT_TEXT);
  const outputChars = (text ?? step.refusal ?? "").length +
    toolCalls.reduce((n, t) => n + t.name.length + t.arguments.length, 0);
  const prompt = step.usage?.prompt_tokens ??
    Math.ceil(JSON.stringify(body.messages ?? []).length / 4);
  const completionTokens = step.usage?.completion_tokens ?? Math.max(1, Math.ceil(outputChars / 4));

  return {
    id: `chatcmpl-${randomUUID().replace(/-/g, "").slice(0, 24)}`,
    created: Math.floor(Date.now() / 1000),
    model: step.model ?? String(body.model ?? "gpt-fake"),
    text,
    refusal: step.refusal ?? null,
    toolCalls,
    finishReason: step.finishReason === undefined
      ? (toolCalls.length > 0 ? "tool_calls" : "stop")
      : step.finishReason,
    stopReason: step.stopReason,
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completionTokens,
      total_tokens: prompt + completionTokens,
      prompt_tokens_details: { cached_tokens: step.usage?.cached_tokens ?? 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: step.usage?.reasoning_tokens ?? 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
  };
}

function completion(reply: Built) {
  const message: Record<string, unknown> = {
    role: "assistant",
    content: reply.text,
    refusal: reply.refusal,
  };
  if (reply.toolCalls.length > 0) {
    message.tool_calls = reply.toolCalls.map((t) => ({
      id: t.id,
      type: "function",
      function: { name: t.name, arguments: t.arguments },
    }));
  }
  const choice: Record<string, unknown> = {
    index: 0,
    message,
    logprobs: null,
    finish_reason: reply.finishReason,
  };
  if (reply.stopReason !== undefined) choice.stop_reason = reply.stopReason;

  return {
    id: reply.id,
    object: "chat.completion",
    created: reply.created,
    model: reply.model,
    choices: [choice],
    usage: reply.usage,
  };
}

/** The chunk objects of a streamed answer, in OpenAI's order (without [DONE]). */
function chunks(reply: Built, deltaChars: number, includeUsage: boolean): object[] {
  const base = {
    id: reply.id,
    object: "chat.completion.chunk",
    created: reply.created,
    model: reply.model,
    system_fingerprint: "fp_fake",
  };
  const extra = includeUsage ? { usage: null } : {};
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...extra,
  });

  const out: object[] = [chunk({ role: "assistant", content: "", refusal: null })];
  if (reply.text !== null) {
    for (const piece of pieces(reply.text, deltaChars)) out.push(chunk({ content: piece }));
  }
  if (reply.refusal !== null) {
    for (const piece of pieces(reply.refusal, deltaChars)) out.push(chunk({ refusal: piece }));
  }
  reply.toolCalls.forEach((call, index) => {
    out.push(chunk({ tool_calls: [{ index, id: call.id, type: "function",
      function: { name: call.name, arguments: "" } }] }));
    for (const piece of pieces(call.arguments, deltaChars)) {
      out.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
    }
  });

  const last = chunk({}, reply.finishReason) as { choices: Array<Record<string, unknown>> };
  const choice = last.choices[0];
  if (choice && reply.stopReason !== undefined) choice.stop_reason = reply.stopReason;
  out.push(last);
  if (includeUsage) out.push({ ...base, choices: [], usage: reply.usage });
  return out;
}

function wantsUsage(body: Record<string, unknown>): boolean {
  const streamOptions = body.stream_options as { include_usage?: unknown } | undefined;
  return streamOptions?.include_usage === true;
}

function openAIError(
  message: string,
  status: number,
  type?: string,
  code?: string | number | null,
) {
  const defaults = ERROR_TYPES[status] ?? { type: "server_error", code: null };
  return {
    error: { message, type: type ?? defaults.type, param: null, code: code ?? defaults.code },
  };
}

function pieces(text: string, size: number): string[] {
  const chars = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(""));
  return out;
}

function sendError(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function flatten(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (chunk: Buffer) => parts.push(chunk));
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}
