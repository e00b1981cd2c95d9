import type { KeyStatus } from "./keyStatus.js";

/**
 * Round-robin over keys in first-seen order: after computing a key, the next
 * key after it (cyclically) with a pending update goes. A pick scans the keys
 * from the cursor, O(keys) at worst; tables with few hot keys among very many
 * cold ones may prefer least-recently-updated (a heap).
 */
export class RoundRobin {
  private readonly slots: Array<KeyStatus | undefined> = [];
  private cursor = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(k: KeyStatus): void {
    if (this.slots[k.index] !== undefined) return;
    while (this.slots.length <= k.index) this.slots.push(undefined);
    this.slots[k.index] = k;
    this.count++;
  }

  update(): void {}

  pop(): KeyStatus | undefined {
    if (this.count === 0) return undefined;
    const n = this.slots.length;
    for (let step = 0; step < n; step++) {
      const i = (this.cursor + step) % n;
      const k = this.slots[i];
      if (k === undefined) continue;
      this.slots[i] = undefined;
      this.count--;
      this.cursor = (i + 1) % n;
      return k;
    }
    return undefined;
  }
}
