/**
 * Output tokens of a stream that ended before the provider reported its usage (the caller
 * hung up, a guardrail stopped it, the connection broke): about four bytes of UTF-8 a token,
 * counted per content block so a short block still costs its token. An estimate, used only
 * where no provider count exists, so such a stream is never billed as free.
 */
export class OutputTokenEstimate {
  private readonly bytes = new Map<number, number>();

  /** Adds streamed text (or a tool call's name and JSON) of the block at `index`. */
  add(index: number, text: string): void {
    if (text === "") return;
    this.bytes.set(index, (this.bytes.get(index) ?? 0) + Buffer.byteLength(text));
  }

  total(): number {
    let tokens = 0;
    for (const bytes of this.bytes.values()) tokens += Math.ceil(bytes / 4);
    return tokens;
  }
}
