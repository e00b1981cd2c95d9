/**
 * HyperLogLog (Flajolet et al. 2007) over 32-bit MurmurHash3 of a value's
 * type-tagged text: 2^p registers, each the largest rank (position of the
 * first 1 bit after the register bits) seen. Registers merge by max, so the
 * sketch is mergeable but not invertible; sliding windows use SlidingHll.
 */
export class HyperLogLog {
  readonly p: number;
  readonly registers: Uint8Array;

  constructor(p = 10) {
    if (!Number.isInteger(p) || p < 4 || p > 16) throw new RangeError(`HyperLogLog precision must be 4..16, got ${p}`);
    this.p = p;
    this.registers = new Uint8Array(1 << p);
  }

  add(v: unknown): void {
    const h = hashValue(v);
    const j = h >>> (32 - this.p);
    const r = rankOf(h, this.p);
    if (r > (this.registers[j] as number)) this.registers[j] = r;
  }

  merge(o: HyperLogLog): void {
    if (o.p !== this.p) throw new RangeError(`cannot merge HyperLogLogs of precision ${this.p} and ${o.p}`);
    for (let j = 0; j < this.registers.length; j++) if ((o.registers[j] as number) > (this.registers[j] as number)) this.registers[j] = o.registers[j] as number;
  }

  estimate(): number {
    let scaled = 0;
    let zeros = 0;
    for (const r of this.registers) {
      scaled += (WEIGHT[r] as number);
      if (r === 0) zeros++;
    }
    return estimate(this.registers.length, scaled, zeros);
  }
}

/**
 * HyperLogLog over a sliding window (Chabchoub and Hébrail, "Sliding
 * HyperLogLog", 2010): each register keeps the positions that may still become
 * its maximum, newest last, with strictly decreasing ranks. Adding drops the
 * older entries it beats; sliding drops entries before the window's start.
 * The estimate is that of a plain HyperLogLog over the window's values.
 */
export class SlidingHll {
  readonly p: number;
  /** Per register: flat [position, rank, position, rank, ...], ranks decreasing. */
  private readonly lists: number[][];
  /** Registers that are not empty: only they can hold positions to slide out. */
  private readonly used = new Set<number>();
  /** Σ 2^(SCALE − front rank) over registers, kept as an exact integer. */
  private scaled: number;
  private zeros: number;
  /** See useBase: the base registers, and the same sums over max(base, front) per register. */
  private base: Uint8Array | undefined;
  private baseScaled = 0;
  private baseZeros = 0;

  constructor(p: number) {
    this.p = p;
    this.lists = Array.from({ length: 1 << p }, () => []);
    this.scaled = this.lists.length * 2 ** SCALE;
    this.zeros = this.lists.length;
  }

  reset(): void {
    this.base = undefined; // the next useBase recomputes its sums
    for (const j of this.used) (this.lists[j] as number[]).length = 0;
    this.used.clear();
    this.scaled = this.lists.length * 2 ** SCALE;
    this.zeros = this.lists.length;
  }

  add(position: number, v: unknown): void {
    const h = hashValue(v);
    const j = h >>> (32 - this.p);
    const l = this.lists[j] as number[];
    const r = rankOf(h, this.p);
    const front = l.length === 0 ? 0 : (l[1] as number);
    while (l.length > 0 && (l[l.length - 1] as number) <= r) l.length -= 2;
    l.push(position, r);
    if (l.length === 2) this.frontChanged(j, front, r);
    this.used.add(j);
  }

  /** Forgets positions before `start`. */
  slide(start: number): void {
    for (const j of this.used) {
      const l = this.lists[j] as number[];
      if ((l[0] as number) >= start) continue;
      const front = l[1] as number;
      let drop = 0;
      while (drop < l.length && (l[drop] as number) < start) drop += 2;
      l.splice(0, drop);
      this.frontChanged(j, front, l.length === 0 ? 0 : (l[1] as number));
      if (l.length === 0) this.used.delete(j);
    }
  }

  estimate(): number {
    return this.base === undefined ? estimate(this.lists.length, this.scaled, this.zeros) : estimate(this.lists.length, this.baseScaled, this.baseZeros);
  }

  /**
   * Registers of earlier values (a plain sketch's) that estimates merge in,
   * each register the larger of the two, as a plain sketch of all those
   * values would hold; undefined: none. O(registers) when it changes, then
   * kept up to date as fronts change, so an estimate stays O(1). The
   * registers must not change while in use: pass a new array instead.
   */
  useBase(registers: Uint8Array | undefined): void {
    if (registers === this.base) return;
    if (registers !== undefined && registers.length !== this.lists.length) throw new RangeError(`cannot merge HyperLogLogs of ${this.lists.length} and ${registers.length} registers`);
    this.base = registers;
    if (registers === undefined) return;
    this.baseScaled = 0;
    this.baseZeros = 0;
    for (let j = 0; j < this.lists.length; j++) {
      const l = this.lists[j] as number[];
      const front = l.length === 0 ? 0 : (l[1] as number);
      const b = registers[j] as number;
      const r = front > b ? front : b;
      this.baseScaled += (WEIGHT[r] as number);
      if (r === 0) this.baseZeros++;
    }
  }

  private frontChanged(j: number, from: number, to: number): void {
    this.scaled += (WEIGHT[to] as number) - (WEIGHT[from] as number);
    if (from === 0) this.zeros--;
    if (to === 0) this.zeros++;
    const base = this.base;
    if (base === undefined) return;
    const b = base[j] as number;
    const was = from > b ? from : b;
    const now = to > b ? to : b;
    if (was === now) return;
    this.baseScaled += (WEIGHT[now] as number) - (WEIGHT[was] as number);
    if (was === 0) this.baseZeros--;
    if (now === 0) this.baseZeros++;
  }
}

/**
 * Ranks are at most 33 − p, so Σ 2^(33 − rank) over at most 2^16 registers is
 * an integer below 2^50: sums in any order are exact, and a sliding sketch
 * estimates exactly what a fresh one over the same values does.
 */
const SCALE = 33;

/** WEIGHT[r] = 2^(SCALE − r) for every rank r (0..33): a table, not a power per register. */
const WEIGHT = Float64Array.from({ length: SCALE + 1 }, (_, r) => 2 ** (SCALE - r));

function rankOf(h: number, p: number): number {
  const rest = (h << p) >>> 0;
  return rest === 0 ? 33 - p : Math.clz32(rest) + 1;
}

/** The HLL estimate from the register count m, Σ 2^(SCALE − rank) and the number of empty registers. */
function estimate(m: number, scaled: number, zeros: number): number {
  if (zeros === m) return 0;
  const sum = scaled / 2 ** SCALE;
  const alpha = m === 16 ? 0.673 : m === 32 ? 0.697 : m === 64 ? 0.709 : 0.7213 / (1 + 1.079 / m);
  const raw = (alpha * m * m) / sum;
  // Small range: linear counting is more accurate while registers are empty.
  if (raw <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros));
  return Math.round(raw);
}

/** MurmurHash3 (x86, 32-bit) of the value's type-tagged text. */
export function hashValue(v: unknown): number {
  const s = typeof v === "string" ? `s${v}` : typeof v === "number" ? `n${v}` : `${typeof v}${String(v)}`;
  let h = 0x9747b28c;
  const n = s.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    let k = (s.charCodeAt(i) & 0xffff) | ((s.charCodeAt(i + 1) & 0xffff) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) {
    let k = s.charCodeAt(i) & 0xffff;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
