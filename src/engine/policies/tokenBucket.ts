/**
 * A compute budget in updates per second of the store's clock: tokens accrue
 * continuously, at most `burst` are saved up, and each computed update spends
 * one. It starts full. Time that goes backwards (a clock set back) adds nothing.
 */
export class TokenBucket {
  private tokens: number;
  private last: number | undefined;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number,
  ) {
    this.tokens = burst;
  }

  /** Whole updates that may be computed now. */
  available(): number {
    const t = this.now();
    if (this.last !== undefined && t > this.last) this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.perSecond) / 1000);
    if (this.last === undefined || t > this.last) this.last = t;
    return Math.floor(this.tokens);
  }

  spend(): void {
    this.tokens -= 1;
  }
}
