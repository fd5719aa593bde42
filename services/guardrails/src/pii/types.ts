import type { PiiType } from "../policy.js";

/**
 * One value found in a text: its type and UTF-16 offsets, end exclusive. `priority` settles
 * overlaps (a card number is not also a phone number); higher wins.
 */
export interface PiiMatch {
  type: PiiType;
  start: number;
  end: number;
  priority: number;
}
