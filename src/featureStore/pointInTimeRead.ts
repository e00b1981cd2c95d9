import type { Row } from "../core/schema.js";
import { encodeKey } from "../core/keys.js";
import type { AggregateOperator } from "../engine/aggregateOperator.js";
import type { KeyState } from "../engine/keyState.js";
import { KERNEL_MAX_POSITION } from "../engine/readKernel.js";
import { sweepKernelOf, type SweepKernel } from "../engine/sweepKernel.js";
import type { FeatureColumn } from "../engine/windowReaders.js";
import { SchemaError } from "../errors.js";
import { toEpochMs } from "../core/time.js";

/**
 * Every feature of an aggregate table as of each row's time (one number or
 * one time for all rows), into columns with NaN for null, and with
 * `eventTimes` each row's latest event time at or before its time. Key
 * values must be strings, numbers or booleans.
 */
export function readPointInTime(
  op: AggregateOperator,
  table: string,
  rows: readonly Row[],
  time: number | Float64Array,
  eventTimes: boolean,
): { columns: FeatureColumn[]; eventTimes: Array<number | null> | undefined } {
  const n = rows.length;
  // Plain arrays, also for numbers: typed arrays live outside the JS heap,
  // and allocating tens of MB of those per read makes V8 collect the whole
  // heap (its external-memory trigger), which costs more than the reads.
  const columns: FeatureColumn[] = op.layout.features.map(() => new Array<unknown>(n));
  const { slotOf, slotKeys } = keySlots(op.layout.keys, rows, true, table);
  // Online reads share one time and need no order.
  const order = typeof time === "number" ? undefined : readOrder(slotOf, slotKeys.length, time);
  const sweep = order === undefined ? undefined : sweepKernelOf(op.layout);
  if (order !== undefined && sweep !== undefined && typeof time !== "number" && allFinite(time)) {
    sweepRead(op, sweep, slotOf, slotKeys, order, time, columns);
  } else {
    forEachRowState(op, slotOf, slotKeys, order, n, (st, i) => op.readState(st, typeof time === "number" ? time : (time[i] as number), columns, i));
  }
  if (!eventTimes) return { columns, eventTimes: undefined };
  const times = new Array<number | null>(n);
  forEachRowState(op, slotOf, slotKeys, order, n, (st, i) => {
    const t = typeof time === "number" ? time : (time[i] as number);
    const p = st === undefined ? 0 : st.upperBound(t);
    times[i] = st !== undefined && p > st.first ? st.timeAt(p - 1) : null;
  });
  return { columns, eventTimes: times };
}

/** Calls `fn` with each row's key state, in read order; a key's state is looked up once per run of its rows (ordered reads make one run per key). */
function forEachRowState(
  op: AggregateOperator,
  slotOf: Uint32Array,
  slotKeys: readonly unknown[][],
  order: Uint32Array | undefined,
  n: number,
  fn: (st: KeyState | undefined, row: number) => void,
): void {
  let slot = -1;
  let st: KeyState | undefined;
  for (let j = 0; j < n; j++) {
    const i = order === undefined ? j : (order[j] as number);
    const s = slotOf[i] as number;
    if (s !== slot) {
      slot = s;
      st = op.stateForRead(slotKeys[s] as unknown[]);
    }
    fn(st, i);
  }
}

function allFinite(times: Float64Array): boolean {
  for (let i = 0; i < times.length; i++) if (!Number.isFinite(times[i] as number)) return false;
  return true;
}

/**
 * Ordered reads through the layout's sweep (sweepKernel.ts), one key's run
 * at a time. The rows' times and slots are first gathered in read order: a
 * tight loop whose cache misses overlap, where in the sweep each would wait
 * behind its unpredictable branches.
 */
function sweepRead(
  op: AggregateOperator,
  sweep: SweepKernel,
  slotOf: Uint32Array,
  slotKeys: readonly unknown[][],
  order: Uint32Array,
  time: Float64Array,
  columns: FeatureColumn[],
): void {
  const n = order.length;
  const at = new Float64Array(n);
  const slots = new Uint32Array(n);
  for (let j = 0; j < n; j++) {
    const i = order[j] as number;
    at[j] = time[i] as number;
    slots[j] = slotOf[i] as number;
  }
  // Scratch for the min/max deques, grown to the largest key swept so far.
  let room = -1;
  let deques: Int32Array[] = [];
  let j = 0;
  while (j < n) {
    const s = slots[j] as number;
    let end = j + 1;
    while (end < n && slots[end] === s) end++;
    const st = op.stateForRead(slotKeys[s] as unknown[]);
    // The run's first read is its earliest: the first, in read order, that a retention limit refuses.
    op.assertReadable(at[j] as number);
    if (st === undefined || st.end > KERNEL_MAX_POSITION) {
      for (let q = j; q < end; q++) op.readState(st, at[q] as number, columns, order[q] as number);
    } else {
      if (room < st.size) {
        room = Math.max(64, 2 * st.size);
        deques = op.layout.deques.map(() => new Int32Array(room));
      }
      sweep(st, at, j, end, order, columns, deques);
    }
    j = end;
  }
}

/**
 * Rows grouped by key: `slotOf[i]` is row i's slot, `slotKeys[s]` the key
 * values of slot s (one array shared by its rows). With `validate`, a key
 * value that is not a string, number or boolean throws.
 */
export function keySlots(keys: readonly string[], rows: readonly Row[], validate: boolean, table: string): { slotOf: Uint32Array; slotKeys: unknown[][] } {
  const n = rows.length;
  const slotOf = new Uint32Array(n);
  const slotKeys: unknown[][] = [];
  const slots = new Map<string, number>();
  const scratch = new Array<unknown>(keys.length);
  const single = keys.length === 1 ? (keys[0] as string) : undefined;
  for (let i = 0; i < n; i++) {
    const r = rows[i] as Row;
    let key: string;
    if (single !== undefined) {
      // One key field: its encoding is String(value) (encodeKey), without the array.
      const v = r[single];
      if (validate && typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") badKey(single, table, i);
      scratch[0] = v;
      key = typeof v === "string" ? v : String(v);
    } else {
      for (let j = 0; j < keys.length; j++) {
        const k = keys[j] as string;
        const v = r[k];
        if (validate && typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") badKey(k, table, i);
        scratch[j] = v;
      }
      key = encodeKey(scratch);
    }
    let s = slots.get(key);
    if (s === undefined) {
      s = slotKeys.length;
      slots.set(key, s);
      slotKeys.push(scratch.slice());
    }
    slotOf[i] = s;
  }
  return { slotOf, slotKeys };
}

function badKey(field: string, table: string, row: number): never {
  throw new SchemaError(`key field "${field}" of table "${table}" is missing or not a string/number/boolean in row ${row}`, { row, field });
}

/** Below this many rows a comparison sort beats the radix passes' fixed cost. */
const RADIX_MIN_ROWS = 2_048;

/**
 * The order in which to read rows point in time: grouped by key slot, by
 * time within a key, input order on ties. Reading a key's rows in time order
 * moves its window cursor forward only (amortised O(1) per read), and a key's
 * rows read together keep its state in cache. Radix passes over digits of at
 * most 16 bits of (t − min t), least significant first, then one over the
 * slot; each pass is a stable counting sort, so ties keep input order.
 */
export function readOrder(slots: Uint32Array, slotCount: number, times: Float64Array): Uint32Array {
  const n = times.length;
  let order = new Uint32Array(n);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let whole = true;
  for (let i = 0; i < n; i++) {
    order[i] = i;
    const t = times[i] as number;
    if (t < min) min = t;
    if (t > max) max = t;
    if (!Number.isInteger(t)) whole = false;
  }
  if (n < 2) return order;
  if (n < RADIX_MIN_ROWS || !whole || !(max - min <= Number.MAX_SAFE_INTEGER)) {
    const sorted = Array.from(order).sort((a, b) => (slots[a] as number) - (slots[b] as number) || (times[a] as number) - (times[b] as number) || a - b);
    return Uint32Array.from(sorted);
  }
  let bits = 0;
  while (2 ** bits <= max - min) bits++;
  // Equal digit widths: 35 bits (a year of ms) sort in 3 passes of 12 bits, whose counts stay in L1.
  const passes = Math.ceil(bits / 16);
  const width = passes === 0 ? 0 : Math.ceil(bits / passes);
  let spare = new Uint32Array(n);
  const digits = new Uint16Array(n);
  const count = new Uint32Array(Math.max(2 ** width, slotCount) + 1);
  for (let p = 0; p < passes; p++) {
    // Multiplying by a power of two and flooring is exact below 2^53; `& mask` keeps the digit's bits.
    const scale = 2 ** -(p * width);
    const mask = 2 ** width - 1;
    for (let i = 0; i < n; i++) digits[i] = Math.floor(((times[i] as number) - min) * scale) & mask;
    countingPass(order, spare, digits, mask + 1, count);
    [order, spare] = [spare, order];
  }
  if (slotCount > 1) {
    countingPass(order, spare, slots, slotCount, count);
    order = spare;
  }
  return order;
}

/** One stable counting-sort pass: src into dst by digit[src[i]] (< buckets). */
function countingPass(src: Uint32Array, dst: Uint32Array, digit: Uint16Array | Uint32Array, buckets: number, count: Uint32Array): void {
  const n = src.length;
  count.fill(0, 0, buckets + 1);
  // Counting needs no order: read the digits front to back.
  for (let i = 0; i < n; i++) {
    const d = (digit[i] as number) + 1;
    count[d] = (count[d] as number) + 1;
  }
  for (let b = 1; b <= buckets; b++) count[b] = (count[b] as number) + (count[b - 1] as number);
  for (let i = 0; i < n; i++) {
    const s = src[i] as number;
    const d = digit[s] as number;
    dst[count[d] as number] = s;
    count[d] = (count[d] as number) + 1;
  }
}

/**
 * For each row, the event time of its key's latest event at or before the
 * row's `field` timestamp: null where there is none (or the timestamp is
 * unreadable). Each key's state is looked up once; a key's rows are searched
 * in time order, so its binary searches stay in one part of its event times.
 */
export function eventTimesAsOf(op: AggregateOperator, table: string, rows: readonly Row[], field: string): Array<number | null> {
  const n = rows.length;
  const out = new Array<number | null>(n).fill(null);
  const { slotOf, slotKeys } = keySlots(op.layout.keys, rows, false, table);
  const states = slotKeys.map((k) => op.lookup(encodeKey(k)));
  const times = new Float64Array(n);
  const readable = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = (rows[i] as Row)[field];
    if (typeof v === "number" && Number.isFinite(v)) {
      times[i] = Math.trunc(v);
      readable[i] = 1;
      continue;
    }
    const at = toEpochMs(v);
    if (at !== undefined) {
      times[i] = at;
      readable[i] = 1;
    }
  }
  const order = readOrder(slotOf, slotKeys.length, times);
  for (let j = 0; j < n; j++) {
    const i = order[j] as number;
    const st = states[slotOf[i] as number];
    if (st === undefined || readable[i] === 0) continue;
    const p = st.upperBound(times[i] as number);
    if (p > st.first) out[i] = st.timeAt(p - 1);
  }
  return out;
}
