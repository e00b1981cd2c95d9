/**
 * DDSketch (Masson, Rim, Lee: "DDSketch: a fast and fully-mergeable quantile
 * sketch with relative-error guarantees", VLDB 2019): values fall into
 * logarithmic buckets of ratio gamma = (1 + α) / (1 − α), so any quantile is
 * answered within relative error α. Bucket counts are integers, which makes
 * the sketch mergeable (add the counts) and invertible (subtract them): a
 * sliding window removes the values that leave it exactly, so a read depends
 * only on the values in the window, not on the order they came and went.
 *
 * Written here rather than taken from @datadog/sketches-js because that one
 * cannot remove values, which sliding windows need.
 */
export class DDSketch {
  readonly accuracy: number;
  private readonly logGamma: number;
  private readonly gamma: number;
  /** Bucket index → count, for positive values and (by magnitude) negative ones. */
  private readonly positive = new Map<number, number>();
  private readonly negative = new Map<number, number>();
  private zeros = 0;
  /** Bucket indices in reading order (negatives by decreasing magnitude, then positives), while no bucket appears or empties. */
  private order: { neg: number[]; pos: number[] } | undefined;
  count = 0;

  constructor(accuracy = 0.01) {
    if (!(accuracy > 0 && accuracy < 1)) throw new RangeError(`DDSketch accuracy must be in (0, 1), got ${accuracy}`);
    this.accuracy = accuracy;
    this.gamma = (1 + accuracy) / (1 - accuracy);
    this.logGamma = Math.log(this.gamma);
  }

  /** Smallest magnitude kept apart from zero; anything closer to zero counts as zero. */
  static readonly MIN_MAGNITUDE = 1e-300;

  add(v: number, weight = 1): void {
    if (v !== v) return;
    this.count += weight;
    if (Math.abs(v) < DDSketch.MIN_MAGNITUDE) {
      this.zeros += weight;
      return;
    }
    this.bump(v > 0 ? this.positive : this.negative, this.index(Math.abs(v)), weight);
  }

  /** Removes a value added before (the inverse of add). */
  remove(v: number): void {
    this.add(v, -1);
  }

  merge(o: DDSketch): void {
    if (o.accuracy !== this.accuracy) throw new RangeError(`cannot merge DDSketches of accuracy ${this.accuracy} and ${o.accuracy}`);
    for (const [i, c] of o.positive) this.bump(this.positive, i, c);
    for (const [i, c] of o.negative) this.bump(this.negative, i, c);
    this.zeros += o.zeros;
    this.count += o.count;
  }

  /**
   * The q-quantile by nearest rank (the smallest value with at least a
   * fraction q of the values at or below it: 0-based rank ceil(q · n) − 1, as
   * SQL's quantile_disc), within relative error `accuracy`; NaN when empty.
   */
  quantile(q: number): number {
    if (this.count <= 0) return Number.NaN;
    const rank = Math.max(0, Math.ceil(q * this.count) - 1);
    let seen = 0;
    const { neg, pos } = (this.order ??= {
      neg: [...this.negative.keys()].sort((a, b) => b - a), // most negative first
      pos: [...this.positive.keys()].sort((a, b) => a - b),
    });
    for (const i of neg) {
      seen += this.negative.get(i) as number;
      if (seen > rank) return -this.value(i);
    }
    seen += this.zeros;
    if (seen > rank) return 0;
    for (const i of pos) {
      seen += this.positive.get(i) as number;
      if (seen > rank) return this.value(i);
    }
    return this.value(pos[pos.length - 1] as number);
  }

  /** Bucket i covers (gamma^(i−1), gamma^i]. */
  private index(magnitude: number): number {
    return Math.ceil(Math.log(magnitude) / this.logGamma);
  }

  /** The bucket's representative: within α of every value in it. */
  private value(i: number): number {
    return (2 * Math.pow(this.gamma, i)) / (this.gamma + 1);
  }

  private bump(store: Map<number, number>, i: number, c: number): void {
    const before = store.get(i);
    const n = (before ?? 0) + c;
    if (n === 0) {
      store.delete(i);
      this.order = undefined;
    } else {
      store.set(i, n);
      if (before === undefined) this.order = undefined;
    }
  }
}
