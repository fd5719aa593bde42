import type { FastifyInstance } from "fastify";
import { invalidRequest } from "./errors.js";

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Replaces Fastify's body parsers with one JSON parser that refuses, each with its own clear 400,
 * bodies that are not UTF-8 and bodies nested deeper than `maxDepth`, before JSON.parse sees
 * them; parsing itself stays Fastify's (it guards against prototype poisoning).
 */
export function registerJsonBody(app: FastifyInstance, maxDepth: number): void {
  const parse = app.getDefaultJsonParser("error", "ignore");
  // JSON only: any other content type (text/plain included) is refused with 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    const bytes = body as Buffer;
    let text: string;
    try {
      text = UTF8.decode(bytes);
    } catch {
      const message = "request body is not valid UTF-8; send JSON encoded as UTF-8";
      done(invalidRequest(message), undefined);
      return;
    }

    if (jsonDepthOver(bytes, maxDepth) !== undefined) {
      done(
        invalidRequest(
          `request body nests JSON deeper than the limit of ${maxDepth} levels; flatten it`,
        ),
        undefined,
      );
      return;
    }
    parse(req, text, done);
  });
}

/**
 * The byte offset where JSON nesting first goes past `maxDepth`, or undefined. Brackets inside
 * strings do not count. Works on UTF-8 bytes: every structural character is ASCII, and no byte
 * of a multi-byte character is.
 */
export function jsonDepthOver(bytes: Uint8Array, maxDepth: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c) i++; // a backslash escapes the next byte
      else if (b === 0x22) inString = false;
      continue;
    }
    if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > maxDepth) return i;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return undefined;
}
