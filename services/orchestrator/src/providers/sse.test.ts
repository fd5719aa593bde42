import { describe, expect, it } from "vitest";
import { parseSse, type SseEvent } from "./sse.js";

async function parse(chunks: Uint8Array[]): Promise<SseEvent[]> {
  async function* source() {
    for (const chunk of chunks) yield chunk;
  }
  const out: SseEvent[] = [];
  for await (const event of parseSse(source())) out.push(event);
  return out;
}

const payload = 'event: delta\ndata: {"text":"Grüße, 東京 ☃"}\n\n: keep-alive\n\n' +
  'data: line one\r\ndata: line two\r\n\r\ndata: [DONE]\n\n';
const expected: SseEvent[] = [
  { event: "delta", data: '{"text":"Grüße, 東京 ☃"}' },
  { event: null, data: "line one\nline two" },
  { event: null, data: "[DONE]" },
];

describe("parseSse", () => {
  it("parses named events, comments, multi-line data and CRLF", async () => {
    expect(await parse([Buffer.from(payload)])).toEqual(expected);
  });

  it("gives the same events when the bytes are split at every possible point", async () => {
    const bytes = Buffer.from(payload);

    for (let cut = 1; cut < bytes.length; cut++) {
      const events = await parse([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(events, `split at byte ${cut}`).toEqual(expected);
    }
  });

  it("gives the same events one byte at a time, UTF-8 characters cut in the middle", async () => {
    const bytes = Buffer.from(payload);

    const events = await parse([...bytes].map((b) => Uint8Array.of(b)));

    expect(events).toEqual(expected);
  });

  it("drops an event the stream cut before its blank line", async () => {
    expect(await parse([Buffer.from('data: {"a":1}\n\ndata: {"b"')])).toEqual([
      { event: null, data: '{"a":1}' },
    ]);
  });
});
