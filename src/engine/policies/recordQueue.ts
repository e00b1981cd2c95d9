import type { OfferOutcome, PendingQueue, PendingUpdate } from "./pendingUpdate.js";

/**
 * FIFO and LIFO: every input is queued on its own (a key may have many).
 * When the queue is full, FIFO refuses the arriving update (tail drop: what
 * is queued is computed first anyway) and LIFO drops its oldest (it would be
 * computed last). A ring buffer, so both ends cost O(1).
 */
export class RecordQueue implements PendingQueue {
  private items: Array<PendingUpdate | undefined> = new Array<PendingUpdate | undefined>(16);
  private head = 0;
  private count = 0;

  constructor(
    private readonly order: "fifo" | "lifo",
    private readonly capacity: number,
  ) {}

  get size(): number {
    return this.count;
  }

  offer(u: PendingUpdate): OfferOutcome {
    if (this.count >= this.capacity) {
      if (this.order === "fifo") return { kind: "dropped", dropped: u };
      const oldest = this.shift() as PendingUpdate;
      this.push(u);
      return { kind: "dropped", dropped: oldest };
    }
    this.push(u);
    return { kind: "queued" };
  }

  pop(): PendingUpdate | undefined {
    if (this.count === 0) return undefined;
    if (this.order === "fifo") return this.shift();
    const at = (this.head + this.count - 1) % this.items.length;
    const u = this.items[at];
    this.items[at] = undefined;
    this.count--;
    return u;
  }

  touch(): void {}

  private push(u: PendingUpdate): void {
    if (this.count === this.items.length) {
      const grown = new Array<PendingUpdate | undefined>(this.items.length * 2);
      for (let i = 0; i < this.count; i++) grown[i] = this.items[(this.head + i) % this.items.length];
      this.items = grown;
      this.head = 0;
    }
    this.items[(this.head + this.count) % this.items.length] = u;
    this.count++;
  }

  private shift(): PendingUpdate | undefined {
    const u = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    return u;
  }
}
