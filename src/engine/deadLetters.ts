/** Why an event did not reach the tables. */
export type DeadLetterReason = "late" | "invalid";

export interface DeadLetter {
  readonly dataset: string;
  readonly reason: DeadLetterReason;
  /** The row as received (invalid rows) or as parsed (late rows). */
  readonly row: unknown;
  /** Event time, when it could be read. */
  readonly eventTime: number | undefined;
  /** Watermark at arrival, for late events. */
  readonly watermark: number | undefined;
  readonly message: string;
}

/**
 * Keeps dead letters in memory up to a cap (the newest are kept) and counts
 * all of them; counts never drop, so nothing disappears silently.
 */
export class DeadLetterSink {
  private readonly items: DeadLetter[] = [];
  private readonly counts = new Map<string, number>();
  private readonly listeners: Array<(d: DeadLetter) => void> = [];

  constructor(private readonly cap = 100_000) {}

  add(d: DeadLetter): void {
    const k = `${d.dataset}\u0000${d.reason}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    this.items.push(d);
    if (this.items.length > this.cap) this.items.splice(0, this.items.length - this.cap);
    for (const l of this.listeners) l(d);
  }

  count(dataset: string, reason: DeadLetterReason): number {
    return this.counts.get(`${dataset}\u0000${reason}`) ?? 0;
  }

  list(dataset?: string): DeadLetter[] {
    return dataset === undefined ? [...this.items] : this.items.filter((d) => d.dataset === dataset);
  }

  onDeadLetter(listener: (d: DeadLetter) => void): void {
    this.listeners.push(listener);
  }

  /** Restores counts saved by a persistent store. */
  restoreCount(dataset: string, reason: DeadLetterReason, n: number): void {
    this.counts.set(`${dataset}\u0000${reason}`, n);
  }
}
