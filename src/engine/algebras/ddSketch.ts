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
  /** Bucket indices in reading order (negatives by decreasing magnitude, then positives), once a read has needed them. */
  private order: { neg: number[]; pos: number[] } | undefined;
  /** See frozenCounts. */
  private frozen: { neg: Float64Array; pos: Float64Array } | undefined;
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

  /** The buckets as plain data (for persistence): [index, count] pairs, positives and negatives, and the zeros. */
  toData(): DDSketchData {
    return { accuracy: this.accuracy, pos: [...this.positive].flat(), neg: [...this.negative].flat(), zeros: this.zeros };
  }

  static fromData(d: DDSketchData): DDSketch {
    const s = new DDSketch(d.accuracy);
    for (let i = 0; i + 1 < d.pos.length; i += 2) s.bump(s.positive, d.pos[i] as number, d.pos[i + 1] as number);
    for (let i = 0; i + 1 < d.neg.length; i += 2) s.bump(s.negative, d.neg[i] as number, d.neg[i + 1] as number);
    s.zeros = d.zeros;
    s.count = d.zeros;
    for (const c of s.positive.values()) s.count += c;
    for (const c of s.negative.values()) s.count += c;
    return s;
  }

  /** Buckets in use (for state sizes). */
  get buckets(): number {
    return this.positive.size + this.negative.size + (this.zeros === 0 ? 0 : 1);
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
    const { neg, pos } = this.sortedOrder();
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

  /**
   * The q-quantile of this sketch's values and `base`'s together, as
   * quantile() of their merge would answer, without building it: the two
   * bucket orders are walked side by side. Neither sketch changes.
   */
  quantileWith(base: DDSketch, q: number): number {
    if (base.accuracy !== this.accuracy) throw new RangeError(`cannot merge DDSketches of accuracy ${this.accuracy} and ${base.accuracy}`);
    const count = base.count + this.count;
    if (count <= 0) return Number.NaN;
    const rank = Math.max(0, Math.ceil(q * count) - 1);
    const a = this.sortedOrder();
    const b = base.sortedOrder();
    const bc = base.frozenCounts();
    let seen = 0;
    // Negatives, most negative (largest index) first.
    for (let i = 0, j = 0; i < a.neg.length || j < b.neg.length; ) {
      const ia = a.neg[i] ?? Number.NEGATIVE_INFINITY;
      const ib = b.neg[j] ?? Number.NEGATIVE_INFINITY;
      const idx = ia >= ib ? ia : ib;
      let c = 0;
      if (ib === idx) c += bc.neg[j++] as number;
      if (ia === idx) c += this.negative.get(a.neg[i++] as number) as number;
      seen += c;
      if (seen > rank) return -this.value(idx);
    }
    seen += base.zeros + this.zeros;
    if (seen > rank) return 0;
    let last = Number.NaN;
    for (let i = 0, j = 0; i < a.pos.length || j < b.pos.length; ) {
      const ia = a.pos[i] ?? Number.POSITIVE_INFINITY;
      const ib = b.pos[j] ?? Number.POSITIVE_INFINITY;
      const idx = ia <= ib ? ia : ib;
      let c = 0;
      if (ib === idx) c += bc.pos[j++] as number;
      if (ia === idx) c += this.positive.get(a.pos[i++] as number) as number;
      seen += c;
      if (seen > rank) return this.value(idx);
      last = idx;
    }
    return this.value(last);
  }

  /** Bucket indices in reading order: built once, then kept in order as buckets appear and empty. */
  private sortedOrder(): { neg: number[]; pos: number[] } {
    return (this.order ??= {
      neg: [...this.negative.keys()].sort((a, b) => b - a), // most negative first
      pos: [...this.positive.keys()].sort((a, b) => a - b),
    });
  }

  /** The counts in reading order (for a base read many times); dropped at any change. */
  private frozenCounts(): { neg: Float64Array; pos: Float64Array } {
    if (this.frozen === undefined) {
      const { neg, pos } = this.sortedOrder();
      this.frozen = { neg: Float64Array.from(neg, (i) => this.negative.get(i) as number), pos: Float64Array.from(pos, (i) => this.positive.get(i) as number) };
    }
    return this.frozen;
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
    this.frozen = undefined;
    const order = this.order;
    if (n === 0) {
      if (before === undefined) return;
      store.delete(i);
      if (order !== undefined) {
        const list = store === this.positive ? order.pos : order.neg;
        list.splice(sortedIndex(list, i, store === this.positive), 1);
      }
    } else {
      store.set(i, n);
      if (before === undefined && order !== undefined) {
        const list = store === this.positive ? order.pos : order.neg;
        list.splice(sortedIndex(list, i, store === this.positive), 0, i);
      }
    }
  }
}

/** Where bucket index i is or goes in a list sorted ascending (or descending). */
function sortedIndex(list: readonly number[], i: number, ascending: boolean): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = list[mid] as number;
    if (ascending ? m < i : m > i) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A DDSketch as plain data: flat [bucket index, count, ...] lists. */
export interface DDSketchData {
  readonly accuracy: number;
  readonly pos: readonly number[];
  readonly neg: readonly number[];
  readonly zeros: number;
}
