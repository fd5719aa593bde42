import type { FastifyReply, FastifyRequest } from "fastify";
import type { HeaderReader, RequestContext } from "./pipeline.js";

/** Reads request headers case-insensitively, first value only. */
export function headerReader(req: FastifyRequest): HeaderReader {
  return (name: string): string | undefined => {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
}

/** An AbortSignal that fires when the caller hangs up before the response is complete. */
export function abortOnClose(req: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  req.raw.on("aborted", () => controller.abort());
  return controller.signal;
}

/** Tells the caller whether the answer came from the response cache, and how old it is. */
export function cacheHeaders(ctx: RequestContext): Record<string, string> {
  const headers: Record<string, string> = { "x-mesh-cache": ctx.cacheStatus ?? "bypass" };
  if (ctx.cacheStatus === "hit" && ctx.cacheAgeMs !== undefined) {
    headers.age = String(Math.floor(ctx.cacheAgeMs / 1000));
  }
  return headers;
}

/**
 * Takes the response over from Fastify and opens an SSE stream with the headers set so far
 * plus `extra`. Returns the raw response to write frames to.
 */
export function openSse(reply: FastifyReply, extra: Record<string, string>) {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    ...extra,
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  return raw;
}
