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
  /** Deque contents (absolute indices), one array per deque with a moving head. */
  readonly dq: number[][];
  readonly dqHead: Int32Array;

  constructor(windowCount: number, dequeCount: number) {
    this.lo = new Float64Array(windowCount);
    this.dq = [];
    for (let i = 0; i < dequeCount; i++) this.dq.push([]);
    this.dqHead = new Int32Array(dequeCount);
  }

  reset(): void {
    this.valid = false;
    for (let d = 0; d < this.dq.length; d++) {
      this.dq[d] = [];
      this.dqHead[d] = 0;
    }
  }
}
