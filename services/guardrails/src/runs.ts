/**
 * Character-run scans used as cheap gates before costlier patterns: one pass over a text's
 * UTF-16 units with a lookup table, no regular expression.
 */

/** A lookup table of ASCII characters, built from a string of members. */
export function asciiTable(members: string): Uint8Array {
  const table = new Uint8Array(128);
  for (let i = 0; i < members.length; i += 1) table[members.charCodeAt(i)] = 1;
  return table;
}

/** Every ASCII letter and digit. */
export const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** True when the text has `min` or more table members in a row. */
export function hasRun(text: string, table: Uint8Array, min: number): boolean {
  let run = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c < 128 && table[c] === 1) {
      run += 1;
      if (run >= min) return true;
    } else {
      run = 0;
    }
  }
  return false;
}

/**
 * True when the text has `min` or more members counted in a row, where single separator
 * characters between members ("de ad be ef", "de:ad:be:ef") do not break the run.
 */
export function hasSeparatedRun(
  text: string,
  table: Uint8Array,
  separators: Uint8Array,
  min: number,
): boolean {
  let run = 0;
  let lastWasSeparator = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c < 128 && table[c] === 1) {
      run += 1;
      lastWasSeparator = false;
      if (run >= min) return true;
    } else if (c < 128 && separators[c] === 1 && !lastWasSeparator && run > 0) {
      lastWasSeparator = true;
    } else {
      run = 0;
      lastWasSeparator = false;
    }
  }
  return false;
}
