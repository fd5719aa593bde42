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

// Reading a typed array is several times faster than charCodeAt, and copying a text's units
// into one costs next to nothing (a native copy), so scans over whole texts read a copy.
// Texts longer than the limit get an array of their own, so one huge text stays in no memory.
const SCRATCH_LIMIT = 65_536;
let scratch = new Uint16Array(4096);
let scratchBytes = Buffer.from(scratch.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The UTF-16 code units of a text, in a scratch array shared by every caller: valid only
 * until the next call, so a caller reads it before calling anything that may call this and
 * keeps no reference past its own work. Entries past text.length are left from earlier texts.
 */
export function codeUnits(text: string): Uint16Array {
  let units = scratch;
  let bytes = scratchBytes;
  if (text.length > units.length) {
    units = new Uint16Array(text.length <= SCRATCH_LIMIT ? SCRATCH_LIMIT : text.length);
    bytes = Buffer.from(units.buffer);
    if (units.length === SCRATCH_LIMIT) [scratch, scratchBytes] = [units, bytes];
  }
  if (LITTLE_ENDIAN) bytes.write(text, 0, "utf16le");
  else for (let i = 0; i < text.length; i += 1) units[i] = text.charCodeAt(i);
  return units;
}

/** True when the text has `min` or more table members in a row. */
export function hasRun(text: string, table: Uint8Array, min: number): boolean {
  const units = codeUnits(text);
  const length = text.length;
  let run = 0;
  // No branch on membership: in prose, members and others alternate unpredictably.
  for (let i = 0; i < length; i += 1) {
    const member = memberOf(table, units[i] as number);
    run = (run + member) & -member;
    if (run >= min) return true;
  }
  return false;
}

/** 1 when the unit is an ASCII member of the table, else 0; computed without a branch. */
export function memberOf(table: Uint8Array, unit: number): number {
  return (table[unit & 127] as number) & ((unit - 128) >>> 31);
}
