/** One server-sent event: its `event` name (null when unnamed) and its joined `data` lines. */
export interface SseEvent {
  event: string | null;
  data: string;
}

/**
 * Parses a byte stream of server-sent events. Network chunks may split an event, a line, or
 * a UTF-8 character anywhere: bytes are decoded in streaming mode (a character cut in two
 * waits for its rest) and lines are cut only at CR, LF or CRLF. An event is complete at its
 * blank line; a trailing event without one is dropped, as the SSE spec says.
 */
export async function* parseSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder("utf-8");
  let buffer = "";
  let data: string[] = [];
  let event: string | null = null;
  // A chunk ending in CR may be the first half of CRLF; the LF then opens the next chunk.
  let skipLeadingLf = false;

  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    if (skipLeadingLf && buffer.startsWith("\n")) buffer = buffer.slice(1);
    skipLeadingLf = false;

    for (;;) {
      const end = buffer.search(/[\r\n]/);
      if (end < 0) break;
      if (buffer[end] === "\r" && end === buffer.length - 1) {
        skipLeadingLf = true;
      }
      const line = buffer.slice(0, end);
      const width = buffer[end] === "\r" && buffer[end + 1] === "\n" ? 2 : 1;
      buffer = buffer.slice(end + width);

      if (line === "") {
        if (data.length > 0) yield { event, data: data.join("\n") };
        data = [];
        event = null;
        continue;
      }
      if (line.startsWith(":")) continue;

      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") data.push(value);
      else if (field === "event") event = value;
    }
  }
}
