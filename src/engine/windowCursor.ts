import type { Layout } from "./layout.js";
import { makeReader, type WindowReader } from "./windowReaders.js";

/**
 * A read position over one key's event buffer: for a read time t it holds the
 * index one past the last event <= t (`hi`), for each window the first event
 * inside (t − w, t] (`lo`), and a monotonic deque per min/max feature.
 * Reads at non-decreasing times advance it in amortised O(1); a read going back
 * in time, or an insert before `hi`, makes it rebuild from the buffer.
 *
 * Indices are absolute positions in the key's event sequence, so eviction at
 * the front never shifts them.
 */
export class WindowCursor {
  valid = false;
  t = Number.NEGATIVE_INFINITY;
  hi = 0;
  readonly lo: Float64Array;
  /** Scratch: each window's start before the current move. */
  readonly before: Float64Array;
  readonly deques: MonotonicDeque[];
  /** One per Layout.readers entry: what prefix sums and deques cannot answer. */
  readonly readers: WindowReader[];
  /**
   * Tiled keys, per Layout.readers entry: the merged state of the window's
   * dropped events last read (its first tile k and the tiles' version), so
   * reads between two changes of the tiles merge them once.
   */
  readonly tileBases: Array<{ readonly k: number; readonly version: number; readonly base: unknown } | undefined> = [];

  /**
   * Whether an eviction moves the cursor's positions up to the first event
   * kept rather than resetting it (see evictedBefore): for sliding and
   * hopping windows without window readers on raw events.
   */
  private readonly keepsOnEvict: boolean;

  constructor(windowCount: number, dequeCount: number, readers: WindowReader[] = [], keepsOnEvict = false) {
    this.lo = new Float64Array(windowCount);
    this.before = new Float64Array(windowCount);
    this.deques = [];
    for (let i = 0; i < dequeCount; i++) this.deques.push(new MonotonicDeque());
    this.readers = readers;
    this.keepsOnEvict = keepsOnEvict && readers.length === 0;
  }

  /** A cursor over the windows, deques and readers of a layout. */
  static of(layout: Pick<Layout, "windows" | "deques" | "readers" | "tiled">): WindowCursor {
    const keeps = layout.tiled === undefined && layout.readers.length === 0 && layout.windows.every((w) => w.gap === 0);
    return new WindowCursor(layout.windows.length, layout.deques.length, layout.readers.map(makeReader), keeps);
  }

  reset(): void {
    this.valid = false;
    for (const d of this.deques) d.clear();
    for (const r of this.readers) r.reset();
  }

  /** An event was inserted at position p: positions from p on shifted. */
  insertedAt(p: number): void {
    if (this.valid && p < this.hi) this.reset();
  }

  /**
   * Events before position `first` were evicted. Where the cursor keeps
   * them out instead of resetting, it becomes the cursor of its time over
   * the events kept: every window starts at `first` or later, and a deque
   * over [first, hi) is the deque over [lo, hi) without the positions before
   * first (an entry's place depends only on later events). Moving on from
   * there to a later time gives what a rebuild there gives, as the windows'
   * starts only move forward.
   */
  evictedBefore(first: number): void {
    if (!this.valid) return;
    for (let w = 0; w < this.lo.length; w++) {
      if ((this.lo[w] as number) < first) {
        if (!this.keepsOnEvict) {
          this.reset();
          return;
        }
        this.lo[w] = first;
      }
    }
    if (!this.keepsOnEvict) return;
    if (this.hi < first) this.hi = first;
    for (const d of this.deques) d.trim(first);
  }
}

/**
 * Positions of a sliding min or max, each with its value: values along the
 * deque are strictly better-first, so the front is the answer. Flat typed
 * buffers with a moving head; compacted or grown when the tail reaches the
 * end. Keeping the values beside the positions spares a read of the key's
 * event values (scattered over the window) at each comparison; a position's
 * value never changes while the deque holds it (an insert before it resets
 * the cursor).
 */
export class MonotonicDeque {
  buf = new Float64Array(16);
  /** vals[i]: the value of the event at position buf[i]. */
  vals = new Float64Array(16);
  head = 0;
  tail = 0;

  clear(): void {
    this.head = 0;
    this.tail = 0;
  }

  /** Adds position p with value v, dropping positions it beats (max: v >= theirs; min: v <= theirs). */
  push(p: number, v: number, isMax: boolean): void {
    const vals = this.vals;
    let tail = this.tail;
    const head = this.head;
    if (isMax) {
      while (tail > head && (vals[tail - 1] as number) <= v) tail--;
    } else {
      while (tail > head && (vals[tail - 1] as number) >= v) tail--;
    }
    this.tail = tail;
    if (tail === this.buf.length) this.reserve(1);
    tail = this.tail;
    this.buf[tail] = p;
    this.vals[tail] = v;
    this.tail = tail + 1;
  }

  /**
   * Makes room for `extra` more pushes without growing (for code that runs the
   * deque in locals, as the emit kernel does): the entries move to the start
   * of the buffers, which double until they fit.
   */
  reserve(extra: number): void {
    const size = this.tail - this.head;
    if (this.tail + extra <= this.buf.length) return;
    let cap = this.buf.length;
    while (size + extra > cap) cap *= 2;
    if (cap === this.buf.length) {
      this.buf.copyWithin(0, this.head, this.tail);
      this.vals.copyWithin(0, this.head, this.tail);
    } else {
      const buf = new Float64Array(cap);
      const vals = new Float64Array(cap);
      buf.set(this.buf.subarray(this.head, this.tail), 0);
      vals.set(this.vals.subarray(this.head, this.tail), 0);
      this.buf = buf;
      this.vals = vals;
    }
    this.head = 0;
    this.tail = size;
  }

  /** Drops positions before lo. */
  trim(lo: number): void {
    const buf = this.buf;
    let head = this.head;
    const tail = this.tail;
    while (head < tail && (buf[head] as number) < lo) head++;
    if (head === tail) {
      this.head = 0;
      this.tail = 0;
    } else {
      this.head = head;
    }
  }

  /** Front position, or -1 when empty. */
  front(): number {
    return this.head < this.tail ? (this.buf[this.head] as number) : -1;
  }

  /** Front value, or NaN (null) when empty. */
  frontValue(): number {
    return this.head < this.tail ? (this.vals[this.head] as number) : Number.NaN;
  }
}
