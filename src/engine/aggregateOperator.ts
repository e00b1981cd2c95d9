import { encodeKey, keyGroupOf } from "../core/keys.js";
import { StringCache } from "../core/stringCache.js";
import { ReadBeforeRetentionError } from "../errors.js";
import type { AggregateNode, Row } from "../plan/nodes.js";

/** What an aggregate computes: its key fields and named aggregations (plain data, no functions). */
export type AggregateSpec = Pick<AggregateNode, "keys" | "aggregations">;
import { emitKernelOf, type EmitKernel } from "./emitKernel.js";
import { KERNEL_MAX_POSITION } from "./readKernel.js";
import { KeyState } from "./keyState.js";
import { layoutOf, type Layout } from "./layout.js";
import { WindowCursor } from "./windowCursor.js";
import type { FeatureColumn } from "./windowReaders.js";
import { emptyValue } from "./emptyValue.js";
import { lazyKeyRows, type EmitSink } from "./emittedRows.js";
import { GroupedBatch } from "./groupedBatch.js";

export type { EmittedRows, EmitSink } from "./emittedRows.js";

/**
 * Emitted rows before their keys are resolved, in runs of one key: rows
 * [runEnds[r − 1], runEnds[r]) (from 0 for r = 0) belong to the state runs[r].
 */
export interface CollectedRows {
  readonly length: number;
  readonly runs: readonly KeyState[];
  readonly runEnds: readonly number[];
  readonly ts: Float64Array;
  readonly values: readonly FeatureColumn[];
}

/** Loads a key's persisted state when it is not in memory (the LMDB store plugs in here). */
export type StateLoader = (key: string) => KeyState | undefined;

/**
 * The windowed aggregate of one feature table. Pushing events only appends to
 * each key's sorted buffer; values are finalised when read (at the store clock
 * or an entity row's time), or, when a history sink is attached, for every
 * (key, event time) once the watermark has passed it.
 */
export class AggregateOperator {
  readonly layout: Layout;
  readonly tableName: string;
  /** The keys and aggregations as plain data (what a worker thread needs to build the same operator). */
  readonly spec: AggregateSpec;
  /** All keys' state. Each KeyState records its key group for persistence and scale-out. */
  readonly states = new Map<string, KeyState>();
  /** Events at or before this time may have been evicted. */
  horizon = Number.NEGATIVE_INFINITY;
  /** Tiled layouts: events before this time (the watermark) are dropped into tile snapshots. */
  compactHorizon = Number.NEGATIVE_INFINITY;
  /** Keys whose state changed since the last persist (each once; see KeyState.dirtyMark). */
  private dirty: KeyState[] = [];
  loader: StateLoader | undefined;

  private readonly keyFields: readonly string[];
  private readonly fieldNames: readonly string[];
  private readonly scratch: Float64Array;
  private readonly refScratch: unknown[];
  /** Tiled layouts: keys with events since the watermark last moved. */
  private toCompact: KeyState[] = [];
  /** Keys with events whose history rows are not emitted yet (see KeyState.pendingMark). */
  private pendingEmit: KeyState[] = [];
  /**
   * States by key for process(), in front of `states`: an entry is the key's
   * state in `states` (adopt() forgets a key whose state it replaces, release()
   * clears all).
   */
  private readonly byKey = new StringCache<KeyState>();
  /**
   * Whether a batch's events are appended key by key (appendLinked): each
   * key's arrays stay in cache over its run of events, where event by event
   * (add) every event touches another key's. Not for tiled layouts and
   * value fields (those go through add).
   */
  private readonly grouped: boolean;
  /**
   * The grouped path's scratch: numeric field columns, each event's index
   * among the batch's keys and those keys (process), then per group its
   * events and position, the groups in order of first event, and the batch
   * regrouped key by key (appendGrouped).
   */
  private batchCols: Float64Array[] = [];
  private batchKey = new Int32Array(0);
  private readonly batchKeys: KeyState[] = [];
  private groupCount = new Int32Array(0);
  private readonly groupOrder: number[] = [];
  private readonly groupedBatch = new GroupedBatch();
  /** Emission of every pending row of a key in one call (see emitKernel.ts); undefined where the read kernel is. */
  private readonly emitKernel: EmitKernel | undefined;

  constructor(tableName: string, spec: AggregateSpec) {
    this.tableName = tableName;
    this.spec = {
      keys: [...spec.keys],
      aggregations: Object.fromEntries(Object.entries(spec.aggregations).map(([name, d]) => [name, { ...d }])),
    };
    this.layout = layoutOf(spec);
    this.emitKernel = emitKernelOf(this.layout);
    this.grouped = this.layout.tiled === undefined && this.layout.valueFields.length === 0;
    this.keyFields = spec.keys;
    this.fieldNames = this.layout.fields;
    this.scratch = new Float64Array(this.fieldNames.length);
    this.refScratch = this.layout.valueFields.map(() => null);
  }

  /** Appends events `rows` with event times `ts` to their keys. */
  process(rows: readonly Row[], ts: ArrayLike<number>, trackEmit: boolean): void {
    const grouped = this.grouped;
    const fields = this.fieldNames;
    const nf = fields.length;
    const squares = this.layout.squares;
    const scratch = this.scratch;
    const cols = grouped ? this.batchColumns(rows.length) : [];
    const single = this.keyFields.length === 1 ? (this.keyFields[0] as string) : undefined;
    const horizon = this.horizon;
    const basic = this.layout.valueFields.length === 0 && !squares.includes(true);
    let last: KeyState | undefined;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as Row;
      let key: string;
      if (single !== undefined) {
        const k = row[single];
        key = typeof k === "string" ? k : String(k);
      } else {
        key = encodeKey(this.keyFields.map((f) => row[f]));
      }
      let st = last !== undefined && last.key === key ? last : this.byKey.get(key);
      if (st === undefined) {
        st = this.states.get(key) ?? this.create(key, row);
        this.byKey.set(key, st);
      }
      last = st;
      if (grouped) {
        for (let f = 0; f < nf; f++) {
          const v = row[fields[f] as string];
          (cols[f] as Float64Array)[i] = typeof v === "number" ? (squares[f] === true ? v * v : v) : Number.NaN;
        }
        this.link(st, i);
      } else {
        if (basic) {
          for (let f = 0; f < nf; f++) {
            const v = row[fields[f] as string];
            scratch[f] = typeof v === "number" ? v : Number.NaN;
          }
        } else {
          this.extractAll(row);
        }
        this.add(st, ts[i] as number, scratch, horizon, trackEmit);
      }
    }
    if (grouped) {
      this.appendGrouped(rows.length, this.batchKey, this.batchKeys, ts, cols, horizon, trackEmit);
      for (const st of this.batchKeys) st.runKey = -1;
      this.batchKeys.length = 0;
    }
  }

  /** Numeric fields (squared where variance needs it) and value fields of a row, into the scratch arrays. */
  private extractAll(row: Row): void {
    const { fields, squares, valueFields } = this.layout;
    for (let f = 0; f < fields.length; f++) {
      const v = row[fields[f] as string];
      this.scratch[f] = typeof v === "number" ? (squares[f] === true ? v * v : v) : Number.NaN;
    }
    for (let r = 0; r < valueFields.length; r++) this.refScratch[r] = row[valueFields[r] as string] ?? null;
  }

  /**
   * Appends events already split into columns (a partition of a parallel
   * replay): event i belongs to `byId[ids[i]]`, its field f value is cols[f][i].
   */
  processColumns(byId: readonly KeyState[], ids: Int32Array, ts: Float64Array, cols: readonly Float64Array[], trackEmit: boolean): void {
    const horizon = this.horizon;
    if (this.grouped) {
      this.appendGrouped(ids.length, ids, byId, ts, cols, horizon, trackEmit);
      return;
    }
    const nf = this.fieldNames.length;
    const scratch = this.scratch;
    for (let i = 0; i < ids.length; i++) {
      const st = byId[ids[i] as number] as KeyState;
      for (let f = 0; f < nf; f++) scratch[f] = (cols[f] as Float64Array)[i] as number;
      this.add(st, ts[i] as number, scratch, horizon, trackEmit);
    }
  }

  /** Columns for a grouped batch of n events (and room for each event's key index), reused from batch to batch. */
  private batchColumns(n: number): Float64Array[] {
    if ((this.batchCols[0]?.length ?? this.batchKey.length) < n) {
      const cap = Math.max(n, 2 * this.batchKey.length);
      this.batchCols = this.fieldNames.map(() => new Float64Array(cap));
      this.batchKey = new Int32Array(cap);
    }
    return this.batchCols;
  }

  /** Event i of a grouped batch belongs to st: numbered with the key's index among the batch's keys (in order of first event). */
  private link(st: KeyState, i: number): void {
    if (st.runKey < 0) {
      st.runKey = this.batchKeys.length;
      this.batchKeys.push(st);
    }
    this.batchKey[i] = st.runKey;
  }

  /**
   * Appends a batch's n events key by key: event i belongs to the state
   * stateOf[group[i]]. The events are first regrouped by key (a counting
   * sort: a pass to count, a pass to place), so that each key's run reads
   * its events one after the other; following each key's events through
   * the batch instead reads them scattered, which cost more than the appends
   * themselves where the batch arrives from another thread (a parallel
   * replay's worker), out of this core's caches. Keys are marked dirty and
   * pending in the order of their first events, as add() marks them, and
   * each run makes the same evictions and appends as add().
   */
  private appendGrouped(
    n: number,
    group: Int32Array,
    stateOf: readonly KeyState[],
    ts: ArrayLike<number>,
    cols: readonly Float64Array[],
    horizon: number,
    trackEmit: boolean,
  ): void {
    if (this.groupCount.length < stateOf.length) this.groupCount = new Int32Array(Math.max(stateOf.length, 2 * this.groupCount.length));
    const count = this.groupCount;
    const order = this.groupOrder;
    order.length = 0;
    for (let i = 0; i < n; i++) {
      const g = group[i] as number;
      const c = count[g] as number;
      if (c === 0) order.push(g);
      count[g] = c + 1;
    }
    // From here on count[g] is where the group's next event goes, and after the placing, where its run ends.
    let start = 0;
    for (const g of order) {
      const c = count[g] as number;
      count[g] = start;
      start += c;
    }
    const placed = this.groupedBatch.place(n, group, count, ts, cols);
    let from = 0;
    for (const g of order) {
      const st = stateOf[g] as KeyState;
      const to = count[g] as number;
      count[g] = 0;
      this.markOneDirty(st);
      if (trackEmit && !st.pendingMark) {
        st.pendingMark = true;
        this.pendingEmit.push(st);
      }
      st.appendRun(placed.ts, placed.cols, from, to, horizon, this.scratch);
      from = to;
    }
  }

  private add(st: KeyState, t: number, values: Float64Array, horizon: number, trackEmit: boolean): void {
    if (st.tiles !== undefined) {
      st.compactTiled(this.compactHorizon);
      if (!st.compactMark) {
        st.compactMark = true;
        this.toCompact.push(st);
      }
    } else {
      st.evict(horizon);
    }
    st.append(t, values, this.refScratch);
    this.markOneDirty(st);
    if (trackEmit && !st.pendingMark) {
      st.pendingMark = true;
      this.pendingEmit.push(st);
    }
  }

  /** A key's state, from memory or the loader, without keeping a loaded one. */
  lookup(key: string): KeyState | undefined {
    return this.states.get(key) ?? this.loader?.(key);
  }

  /** Takes over a key's state built elsewhere (a parallel replay handing its partition back). */
  adopt(st: KeyState): void {
    this.byKey.forget(st.key);
    this.states.set(st.key, st);
    this.markOneDirty(st);
  }

  /**
   * Hands every in-memory key state over (to a parallel replay) and forgets
   * it here: the operator is empty until the states are adopted back.
   */
  release(): KeyState[] {
    const all = [...this.states.values()];
    this.states.clear();
    this.byKey.clear();
    for (const st of all) {
      st.pendingMark = false;
      st.dirtyMark = false;
    }
    this.pendingEmit = [];
    this.dirty = [];
    return all;
  }

  private create(key: string, row: Row): KeyState {
    const loaded = this.loader?.(key);
    if (loaded !== undefined) {
      this.states.set(key, loaded);
      return loaded;
    }
    const keyValues = this.keyFields.map((f) => row[f]);
    const st = new KeyState(key, keyValues, keyGroupOf(key), this.layout);
    this.states.set(key, st);
    return st;
  }

  /** Called after each batch with the source's watermark: sets the eviction horizon. */
  advanceWatermark(watermark: number): void {
    const h = watermark - this.layout.retention;
    if (h > this.horizon) this.horizon = h;
    if (this.layout.tiled !== undefined && watermark > this.compactHorizon) {
      this.compactHorizon = watermark;
      // Keys that took events since the last watermark drop what it passed now, not at their next event.
      for (const st of this.toCompact) {
        st.compactMark = false;
        st.compactTiled(watermark);
      }
      this.toCompact = [];
    }
  }

  /**
   * Emits, for every key with pending events, one row per distinct event time
   * below `upTo` (the watermark, or +Infinity at the end of a replay).
   */
  emit(upTo: number, sink: EmitSink): void {
    const c = this.collect(upTo);
    if (c === undefined) return;
    sink(
      lazyKeyRows(c.length, c.ts, c.values, (keys) => {
        let from = 0;
        for (let r = 0; r < c.runs.length; r++) {
          const to = c.runEnds[r] as number;
          keys.fill((c.runs[r] as KeyState).keyValues, from, to);
          from = to;
        }
      }),
    );
  }

  /** What emit() emits, with runs of rows by key state instead of each row's key values. */
  collect(upTo: number): CollectedRows | undefined {
    const nfeat = this.layout.features.length;
    // At most one row per pending event: size the columns once.
    let cap = 0;
    for (const st of this.pendingEmit) cap += st.end - Math.max(st.emitPos, st.first);
    if (cap === 0) return undefined;
    const runs: KeyState[] = [];
    const runEnds: number[] = [];
    const ts = new Float64Array(cap);
    const values: FeatureColumn[] = [];
    for (let k = 0; k < nfeat; k++) values.push((this.layout.features[k] as (typeof this.layout.features)[number]).out === "number" ? new Float64Array(cap) : new Array<unknown>(cap));
    let n = 0;
    const still: KeyState[] = [];
    const kernel = this.emitKernel;
    for (const st of this.pendingEmit) {
      const cur = (st.emitCursor ??= WindowCursor.of(this.layout));
      const from = n;
      n = kernel !== undefined && st.end <= KERNEL_MAX_POSITION ? kernel(st, cur, upTo, ts, values, n) : this.emitGeneric(st, cur, upTo, ts, values, n);
      if (n > from) {
        runs.push(st);
        runEnds.push(n);
      }
      if (st.emitPos < st.end) still.push(st);
      else st.pendingMark = false;
    }
    this.pendingEmit = still;
    if (n === 0) return undefined;
    return { length: n, runs, runEnds, ts: ts.subarray(0, n), values: values.map((v) => (v instanceof Float64Array ? v.subarray(0, n) : ((v.length = n), v))) };
  }

  /** What the emit kernel does (see EmitKernel), through KeyState.readInto: for layouts without a kernel. */
  private emitGeneric(st: KeyState, cur: WindowCursor, upTo: number, ts: Float64Array, values: readonly FeatureColumn[], n: number): number {
    let p = st.emitPos;
    if (p < st.first) p = st.first;
    while (p < st.end) {
      const t = st.timeAt(p);
      if (t >= upTo) break;
      // All events at the same time share one output row.
      do p++;
      while (p < st.end && st.timeAt(p) === t);
      st.readInto(cur, t, values, n);
      ts[n] = t;
      n++;
    }
    st.emitPos = p;
    return n;
  }

  markDirty(states: readonly KeyState[]): void {
    for (const st of states) this.markOneDirty(st);
  }

  private markOneDirty(st: KeyState): void {
    if (!st.dirtyMark) {
      st.dirtyMark = true;
      this.dirty.push(st);
    }
  }

  /** Keys changed since the last call; their marks are cleared. */
  takeDirty(): KeyState[] {
    const out = this.dirty;
    this.dirty = [];
    for (const st of out) st.dirtyMark = false;
    return out;
  }

  /** Features of one key as of t (NaN for null), into out[k][index]. */
  read(keyValues: readonly unknown[], t: number, out: readonly FeatureColumn[], index: number): void {
    this.readState(this.stateForRead(keyValues), t, out, index);
  }

  /**
   * A key's state ready for reads (loaded, evicted up to the horizon), or
   * undefined for a never-seen key. Many reads of one key look it up once.
   */
  stateForRead(keyValues: readonly unknown[]): KeyState | undefined {
    const key = encodeKey(keyValues);
    let st = this.states.get(key);
    if (st === undefined) {
      st = this.loader?.(key);
      if (st !== undefined) this.states.set(key, st);
    }
    if (st === undefined) return undefined;
    if (st.tiles !== undefined) st.compactTiled(this.compactHorizon);
    else st.evict(this.horizon);
    return st;
  }

  /** Features of a state from stateForRead (undefined: a never-seen key) as of t, into out[k][index]. */
  readState(st: KeyState | undefined, t: number, out: readonly FeatureColumn[], index: number): void {
    this.assertReadable(t);
    if (st === undefined) {
      this.readEmpty(out, index);
      return;
    }
    const cur = (st.readCursor ??= WindowCursor.of(this.layout));
    st.readInto(cur, t, out, index);
  }

  /** Throws ReadBeforeRetentionError when a read at t would need evicted or compacted events. */
  assertReadable(t: number): void {
    if (this.layout.retention !== Number.POSITIVE_INFINITY && t < this.horizon + this.layout.retention) {
      throw new ReadBeforeRetentionError(this.tableName, t, this.horizon + this.layout.retention);
    }
    if (t < this.compactHorizon) throw new ReadBeforeRetentionError(this.tableName, t, this.compactHorizon);
  }

  /** A never-seen key reads like an empty window (see emptyValue). */
  private readEmpty(out: readonly FeatureColumn[], index: number): void {
    const feats = this.layout.features;
    for (let k = 0; k < feats.length; k++) (out[k] as FeatureColumn)[index] = emptyValue((feats[k] as (typeof feats)[number]).kind);
  }

  /** Bytes of every key's state in memory (for stats). */
  stateBytes(): number {
    let b = 0;
    for (const st of this.states.values()) b += st.stateBytes();
    return b;
  }

  /** Total events retained across keys (for stats). */
  retainedEvents(): number {
    let n = 0;
    for (const st of this.states.values()) n += st.size;
    return n;
  }
}
