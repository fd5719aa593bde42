/**
 * Sums of a few fields over a sliding window, kept in a ring of fixed time slots: a value
 * added at time t lands in slot floor(t / slotMs), and a slot older than the ring is reused.
 * Memory is slots × fields numbers whatever the traffic; precision is one slot.
 */
export class SlidingSums {
  // Which slot number (time / slotMs) each row holds now; -1 for a row never written.
  private readonly slotOf: Float64Array;
  private readonly values: Float64Array;
  private lastSlot = Number.NEGATIVE_INFINITY;

  /**
   * @param slotMs width of one slot
   * @param slots how many slots the ring keeps; windows longer than slots × slotMs are cut
   * @param fields how many numbers each slot holds
   */
  constructor(
    readonly slotMs: number,
    readonly slots: number,
    readonly fields: number,
  ) {
    this.slotOf = new Float64Array(slots).fill(-1);
    this.values = new Float64Array(slots * fields);
  }

  /** Adds amount to one field at time nowMs. */
  add(nowMs: number, field: number, amount: number): void {
    const slot = Math.floor(nowMs / this.slotMs);
    const row = slot % this.slots;
    if (this.slotOf[row] !== slot) {
      this.slotOf[row] = slot;
      this.values.fill(0, row * this.fields, (row + 1) * this.fields);
    }

    this.values[row * this.fields + field] = (this.values[row * this.fields + field] ?? 0) + amount;
    this.lastSlot = Math.max(this.lastSlot, slot);
  }

  /**
   * Each field summed over the slots of the last windowMs, the current (partial) slot
   * included: ceil(windowMs / slotMs) slots ending with the one nowMs falls in.
   */
  sum(nowMs: number, windowMs: number): Float64Array {
    const current = Math.floor(nowMs / this.slotMs);
    const span = Math.min(this.slots, Math.ceil(windowMs / this.slotMs));
    const out = new Float64Array(this.fields);

    for (let row = 0; row < this.slots; row++) {
      const slot = this.slotOf[row] ?? -1;
      if (slot > current - span && slot <= current) {
        for (let f = 0; f < this.fields; f++) {
          out[f] = (out[f] ?? 0) + (this.values[row * this.fields + f] ?? 0);
        }
      }
    }
    return out;
  }

  /** True when nothing was added in the last windowMs, so the ring can be dropped. */
  idleFor(nowMs: number, windowMs: number): boolean {
    return this.lastSlot <= Math.floor(nowMs / this.slotMs) - Math.ceil(windowMs / this.slotMs);
  }
}
