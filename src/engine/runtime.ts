import type { Schema } from "../core/schema.js";
import type { BatchArrival } from "../stores/offline/historyStore.js";
import type { OperatorTableDef, Row, SourceDef, TableDef } from "../plan/nodes.js";
import { pipelineOf, sourceOf, type JoinNode } from "../plan/nodes.js";
import { HeldRows, LookupState, lookupJoin } from "./lookupJoin.js";
import { branchSteps } from "./branchSteps.js";
import { AggregateOperator, type EmittedRows } from "./aggregateOperator.js";
import type { DeadLetter, DeadLetterSink } from "./deadLetters.js";
import type { PartitionedAggregate } from "./parallel/partitioned.js";
import { compileSteps, type Batch, type RowSteps } from "./rowSteps.js";
import { OperatorTableRuntime, type StagedOutputs } from "./operatorTable.js";

/** An ingest between its user code and its commit. */
interface Prepared {
  readonly src: SourceRuntime;
  readonly late: readonly DeadLetter[];
  readonly maxTs: number;
  readonly acceptedRows: Row[];
  readonly acceptedTs: Float64Array;
  /** Per aggregate table and per operator table: the batch after its steps. */
  readonly inputs: readonly Batch[];
  readonly opInputs: readonly Batch[];
}

/** Receives every accepted source event, in processing order (the offline history). */
export interface HistorySink {
  /** `merge` numbers the batch among the batches the runtime merged (see Runtime.arrivals and BatchArrival). */
  append(dataset: string, schema: Schema, rows: readonly Row[], ts: Float64Array, merge?: BatchArrival): void;
}

/** Event-time bookkeeping of one source: watermark = max event time − lateness. */
export class SourceRuntime {
  maxTs = Number.NEGATIVE_INFINITY;
  accepted = 0;
  readonly tables: TableRuntime[] = [];
  readonly operatorTables: OperatorTableRuntime[] = [];
  /** Tables that join this (keyed) dataset, and every version of its rows for their lookups. */
  readonly joinedBy: TableRuntime[] = [];
  lookup: LookupState | undefined;
  /**
   * True once the source ended (the end of a replay) or went idle for its
   * idle timeout: it no longer holds joins back. The next event clears it.
   */
  finished = false;
  /** When the last batch arrived (or the source was added), by the store's processing-time clock. */
  lastArrival: number | undefined;
  constructor(readonly def: SourceDef) {}

  get watermark(): number {
    return this.maxTs - this.def.lateness;
  }

  /** Rows of other sources joined with this one may be released below this time. */
  get frontier(): number {
    return this.finished ? Number.POSITIVE_INFINITY : this.watermark;
  }
}

export class TableRuntime {
  /** The steps before the join (all of them without one); with a union, those of the first branch (see stepsFor). */
  readonly steps: RowSteps;
  /**
   * A union (or interval join): per source, the steps of its branch(es) then
   * the steps after; the sources; and, during a replay, the rows waiting for
   * the table's watermark (replays feed one dataset after another: rows are
   * released in event-time order instead of being inserted far back).
   */
  readonly union: { readonly steps: ReadonlyMap<string, RowSteps>; readonly sources: SourceRuntime[]; readonly held: HeldRows } | undefined;
  readonly operator: AggregateOperator;
  /** Set while a parallel replay holds this table's state in worker threads. */
  partitioned: PartitionedAggregate | undefined;
  /** A joined table: its join, the steps after it, the joined dataset and the rows waiting for it. */
  readonly join: { readonly node: JoinNode; readonly post: RowSteps; readonly right: SourceRuntime; readonly held: HeldRows } | undefined;
  constructor(
    readonly def: TableDef,
    readonly source: SourceRuntime,
    right?: SourceRuntime,
  ) {
    const p = pipelineOf(def.root);
    this.operator = new AggregateOperator(def.name, def.root);
    if (p.branches !== undefined) {
      const sources: SourceRuntime[] = [];
      const [l, r] = p.branches;
      const watermark = (name: string | undefined): number => sources.find((s) => s.def.name === name)?.watermark ?? Number.NEGATIVE_INFINITY;
      const steps = branchSteps(p, source.def.lateness, () => ({ left: watermark(l?.source.name), right: watermark(r?.source.name) }));
      this.union = { steps, sources, held: new HeldRows() };
      this.steps = steps.get(source.def.name) as RowSteps;
    } else {
      this.union = undefined;
      this.steps = compileSteps(p.pre, source.def.lateness);
    }
    this.join =
      p.join === undefined || right === undefined
        ? undefined
        : { node: p.join, post: compileSteps(p.post, source.def.lateness), right, held: new HeldRows() };
  }

  /** The steps a batch of `src` goes through for this table. */
  stepsFor(src: SourceRuntime): RowSteps {
    return this.union?.steps.get(src.def.name) ?? this.steps;
  }

  /**
   * Event time up to which the table has all its input: the source's
   * watermark, or less while a join waits; for a union the smallest of its
   * sources' (ended or idle ones left out, unless all are).
   */
  get watermark(): number {
    if (this.union !== undefined) {
      const live = this.union.sources.filter((s) => !s.finished);
      return Math.min(...(live.length === 0 ? this.union.sources : live).map((s) => s.watermark));
    }
    return this.join === undefined ? this.source.watermark : Math.min(this.source.watermark, this.join.right.frontier);
  }

  /** Every source of the table (both sides of a join, every source of a union) has ended. */
  get ended(): boolean {
    const sources = this.union?.sources ?? (this.join === undefined ? [this.source] : [this.source, this.join.right]);
    return sources.every((s) => s.finished);
  }
}

export type TableRowsSink = (table: string, rows: EmittedRows) => void;

/** Hears which rows (after its steps) each table took in a committed batch. */
export type TableUpdateListener = (table: TableRuntime, rows: readonly Row[]) => void;

/**
 * The one runtime. Online pushes and offline replays both call `ingest`;
 * a replay simply feeds history in event-time order, in large batches, and
 * asks for the tables' per-event rows.
 */
export class Runtime {
  readonly sources = new Map<string, SourceRuntime>();
  readonly tables = new Map<string, TableRuntime>();
  readonly operatorTables = new Map<string, OperatorTableRuntime>();
  /** Set during materializeOffline: union tables hold their rows until the table's watermark passes them. */
  replaying = false;
  /** Set while someone subscribes to table updates (store.subscribe); unset, ingest pays nothing. */
  onUpdate: TableUpdateListener | undefined;
  /**
   * Batches numbered so far among those of sources feeding a union or an
   * interval join. Their history records the number, so that a replay merges
   * the sources' events of the same time in the order this runtime processed
   * them (see replayHistory); it is saved with the state.
   */
  arrivals = 0;

  constructor(
    private readonly deadLetters: DeadLetterSink,
    private readonly history: HistorySink,
    /** Processing time (for idle timeouts), from the store's clock; the engine never reads the system clock. */
    private readonly now: () => number = () => 0,
  ) {}

  addSource(def: SourceDef): SourceRuntime {
    const existing = this.sources.get(def.name);
    if (existing !== undefined) return existing;
    const s = new SourceRuntime(def);
    s.lastArrival = this.now(); // a source that never sends anything goes idle from here
    this.sources.set(def.name, s);
    return s;
  }

  addTable(def: TableDef): TableRuntime {
    const source = this.addSource(sourceOf(def.root));
    const join = pipelineOf(def.root).join;
    const right = join === undefined ? undefined : this.addSource(join.right);
    const t = new TableRuntime(def, source, right);
    source.tables.push(t);
    if (t.union !== undefined) {
      for (const br of pipelineOf(def.root).branches ?? []) {
        const s = this.addSource(br.source);
        if (t.union.sources.includes(s)) continue;
        t.union.sources.push(s);
        if (s !== source) s.tables.push(t);
      }
    }
    if (right !== undefined) {
      right.lookup ??= new LookupState(right.def.keys);
      right.joinedBy.push(t);
    }
    this.tables.set(def.name, t);
    return t;
  }

  addOperatorTable(def: OperatorTableDef): OperatorTableRuntime {
    const source = this.addSource(sourceOf(def.root));
    const t = new OperatorTableRuntime(def, source, this.now);
    source.operatorTables.push(t);
    this.operatorTables.set(def.name, t);
    return t;
  }

  /** Forgets a table (an apply that failed); its source stays. */
  removeTable(name: string): void {
    const t = this.tables.get(name);
    for (const s of t?.union?.sources ?? (t === undefined ? [] : [t.source])) s.tables.splice(s.tables.indexOf(t as TableRuntime), 1);
    if (t?.join !== undefined) t.join.right.joinedBy.splice(t.join.right.joinedBy.indexOf(t), 1);
    const o = this.operatorTables.get(name);
    if (o !== undefined) o.source.operatorTables.splice(o.source.operatorTables.indexOf(o), 1);
    this.tables.delete(name);
    this.operatorTables.delete(name);
  }

  /**
   * Takes parsed rows of one source with their event times. Events older than
   * the watermark at their arrival are late: dead-lettered and counted. The rest
   * go to the history and to every table fed by the source. Sources feeding
   * operator tables (user code that may be async) go through ingestAsync.
   */
  ingest(sourceName: string, rows: readonly Row[], ts: Float64Array, emit?: TableRowsSink): number {
    const p = this.prepare(sourceName, rows, ts);
    if (p.src.operatorTables.length > 0) {
      this.rollback(p.src);
      throw new Error(`runtime: source ${sourceName} feeds operator tables; use ingestAsync`);
    }
    return this.commit(p, [], emit);
  }

  /** ingest, awaiting the operator tables: the batch commits everywhere only once every operator succeeded. */
  async ingestAsync(sourceName: string, rows: readonly Row[], ts: Float64Array, emit?: TableRowsSink): Promise<number> {
    const p = this.prepare(sourceName, rows, ts);
    const staged: StagedOutputs[] = [];
    try {
      // Online, policy tables queue their inputs; a replay computes every input (offline history stays exact).
      const mode = this.replaying ? "exact" : "online";
      for (let i = 0; i < p.src.operatorTables.length; i++) staged.push(await (p.src.operatorTables[i] as OperatorTableRuntime).compute(p.opInputs[i] as Batch, mode));
    } catch (e) {
      this.rollback(p.src);
      throw e;
    }
    const n = this.commit(p, staged, emit);
    // Only policy tables have queued work: no await (a microtask) per push for the others.
    if (!this.replaying) for (const t of p.src.operatorTables) if (t.policy !== undefined) await t.drain();
    return n;
  }

  /**
   * The part of an ingest that runs user code and changes nothing for good:
   * the late check (computed, not applied) and every table's steps (staged).
   */
  private prepare(sourceName: string, rows: readonly Row[], ts: Float64Array): Prepared {
    const src = this.sources.get(sourceName);
    if (src === undefined) throw new Error(`runtime: unknown source ${sourceName}`);
    const { acceptedRows, acceptedTs, late, maxTs } = splitLate(sourceName, src.def.lateness, src.maxTs, rows, ts);
    // User code (the tables' steps, the operators, then the sink) runs where a
    // throw cannot leave the source, its history and its tables disagreeing:
    // every step first, then the batch is committed to all of them, then rows
    // are emitted.
    let inputs: Batch[] = [];
    let opInputs: Batch[] = [];
    if (acceptedRows.length > 0) {
      try {
        const batch = { rows: acceptedRows, ts: acceptedTs };
        inputs = src.tables.map((table) => table.stepsFor(src)(batch));
        opInputs = src.operatorTables.map((table) => table.steps(batch));
      } catch (e) {
        this.rollback(src);
        throw e;
      }
    }
    return { src, late, maxTs, acceptedRows, acceptedTs, inputs, opInputs };
  }

  private rollback(src: SourceRuntime): void {
    for (const table of src.tables) table.stepsFor(src).rollback();
    for (const table of src.operatorTables) table.steps.rollback();
  }

  private commit(p: Prepared, staged: readonly StagedOutputs[], emit: TableRowsSink | undefined): number {
    const { src, late, acceptedRows, acceptedTs } = p;
    // A union table's watermark may be ahead of this source's (it was idle):
    // its rows behind the table's watermark are late for that table. The
    // history records the watermarks that dropped rows, for replays.
    let lateFor: Record<string, number> | undefined;
    const inputs = p.inputs.map((b, i) => {
      const table = src.tables[i] as TableRuntime;
      if (table.union === undefined) return b;
      const kept = this.lateForTable(table, b, src);
      if (kept !== b) (lateFor ??= {})[table.def.name] = table.watermark;
      return kept;
    });
    for (const table of src.tables) table.stepsFor(src).commit();
    for (const table of src.operatorTables) table.steps.commit();
    for (const d of late) this.deadLetters.add(d);
    src.maxTs = p.maxTs;
    src.accepted += acceptedRows.length;
    if (acceptedRows.length === 0) return 0;
    if (src.def.record !== false) {
      const merged = src.tables.some((t) => t.union !== undefined);
      this.history.append(src.def.name, src.def.schema, acceptedRows, acceptedTs, merged ? { arrival: ++this.arrivals, lateFor } : undefined);
    }
    src.lookup?.add(acceptedRows, acceptedTs);
    src.finished = false;
    src.lastArrival = this.now();
    for (let i = 0; i < src.tables.length; i++) {
      const table = src.tables[i] as TableRuntime;
      const b = inputs[i] as Batch;
      if (table.join !== undefined) table.join.held.hold(b);
      else if (table.union !== undefined && this.replaying) table.union.held.hold(b);
      else if (table.partitioned !== undefined) table.partitioned.send(b.rows, b.ts, src.watermark, emit !== undefined);
      else table.operator.process(b.rows, b.ts, emit !== undefined);
    }
    staged.forEach((s, i) => (src.operatorTables[i] as OperatorTableRuntime).commit(s));
    for (const table of src.tables) {
      // Joined tables, and union tables in a replay, emit and evict when they release rows.
      if (table.partitioned !== undefined || table.join !== undefined || (table.union !== undefined && this.replaying)) continue;
      const wm = table.watermark;
      if (emit !== undefined) table.operator.emit(wm, (r) => emit(table.def.name, r));
      table.operator.advanceWatermark(wm);
    }
    const listener = this.onUpdate;
    if (listener !== undefined) src.tables.forEach((table, i) => table.join === undefined && listener(table, (inputs[i] as Batch).rows));
    this.releaseJoins(src, emit);
    return acceptedRows.length;
  }

  /** Keeps the rows at or after a union table's watermark (`b` itself when all are); the others are dead-lettered as late for the table. */
  private lateForTable(table: TableRuntime, b: Batch, src: SourceRuntime): Batch {
    const wm = table.watermark;
    if (!Number.isFinite(wm)) return b;
    const rows: Row[] = [];
    const ts: number[] = [];
    for (let i = 0; i < b.rows.length; i++) {
      const t = b.ts[i] as number;
      if (t >= wm) {
        rows.push(b.rows[i] as Row);
        ts.push(t);
        continue;
      }
      this.deadLetters.add(lateLetter(src.def.name, b.rows[i], t, wm, `of union table "${table.def.name}" (the source was idle while the other went on)`));
    }
    return rows.length === b.rows.length ? b : { rows, ts: Float64Array.from(ts) };
  }

  /** Releases what the joined tables of a source (as either side) can now join. */
  private releaseJoins(src: SourceRuntime, emit: TableRowsSink | undefined): void {
    for (const table of src.tables) {
      if (table.join !== undefined) this.release(table, emit);
      else if (table.union !== undefined && (table.union.held.size > 0 || this.replaying)) this.releaseUnion(table, emit);
    }
    for (const table of src.joinedBy) this.release(table, emit);
  }

  /** A union table in a replay: aggregates, in event-time order, the held rows below its watermark (all once every source ended). */
  private releaseUnion(table: TableRuntime, emit: TableRowsSink | undefined): void {
    const u = table.union;
    if (u === undefined) return;
    const b = u.held.take(table.ended ? Number.POSITIVE_INFINITY : table.watermark);
    if (b.rows.length > 0) {
      table.operator.process(b.rows, b.ts, emit !== undefined);
      this.onUpdate?.(table, b.rows);
    }
    // Not past the rows still held: they have not been aggregated yet.
    const wm = Math.min(table.watermark, u.held.minTime);
    if (emit !== undefined) table.operator.emit(wm, (r) => emit(table.def.name, r));
    table.operator.advanceWatermark(wm);
  }

  /**
   * Joins a table's held rows that no right row can change any more (time
   * below the right side's frontier), runs the steps after the join and
   * aggregates them; then emits and evicts up to the table's watermark.
   */
  private release(table: TableRuntime, emit: TableRowsSink | undefined): void {
    const j = table.join;
    if (j === undefined) return;
    const taken = j.held.take(j.right.frontier);
    if (taken.rows.length > 0) {
      let out: Batch;
      try {
        out = j.post(lookupJoin(j.node, j.right.lookup as LookupState, taken));
        j.post.commit();
      } catch (e) {
        j.post.rollback();
        j.held.hold(taken); // back in line: nothing was aggregated
        throw e;
      }
      table.operator.process(out.rows, out.ts, emit !== undefined);
      this.onUpdate?.(table, out.rows);
    }
    const wm = table.watermark;
    if (emit !== undefined) table.operator.emit(wm, (r) => emit(table.def.name, r));
    table.operator.advanceWatermark(wm);
    // Later lookups are at or after the earliest time any joined table can still release.
    const right = j.right;
    right.lookup?.trim(Math.min(...right.joinedBy.map((t) => Math.min(t.watermark, t.join?.held.minTime ?? Number.POSITIVE_INFINITY))));
  }

  /** The end of a replay's input: these sources stop holding joins back until their next event. */
  endOfInput(sources: readonly string[], emit: TableRowsSink | undefined): void {
    for (const name of sources) {
      const src = this.sources.get(name);
      if (src === undefined) continue;
      src.finished = true;
    }
    for (const name of sources) {
      const src = this.sources.get(name);
      if (src !== undefined) this.releaseJoins(src, emit);
    }
  }

  /** Sources idle for their idle timeout (by the processing-time clock) stop holding joins back. */
  checkIdle(): void {
    const now = this.now();
    for (const src of this.sources.values()) {
      const timeout = src.def.idleTimeout;
      if (timeout === undefined || src.finished || src.lastArrival === undefined || now - src.lastArrival < timeout) continue;
      src.finished = true;
      this.releaseJoins(src, undefined);
    }
  }

  /** End of a replay: every pending (key, time) row is final (partitioned tables emit theirs when closed). */
  finish(sourceName: string, emit: TableRowsSink): void {
    const src = this.sources.get(sourceName);
    if (src === undefined) return;
    for (const table of src.tables) {
      if (table.partitioned !== undefined) continue;
      // Tables with another source still running are final only up to their watermark.
      const multi = table.union !== undefined || table.join !== undefined;
      const upTo = multi && !table.ended ? table.watermark : Number.POSITIVE_INFINITY;
      table.operator.emit(upTo, (r) => emit(table.def.name, r));
    }
  }
}


/** A batch with its late rows taken out (as dead letters), and the source's max event time after it. */
interface OnTime {
  readonly acceptedRows: Row[];
  readonly acceptedTs: Float64Array;
  readonly late: readonly DeadLetter[];
  readonly maxTs: number;
}

/**
 * Takes out the rows older than the watermark at their arrival (max event
 * time so far − lateness). The common case, no late row, is one tight loop
 * that copies nothing; its own function so that the loop is optimized on its
 * own (inside prepare it was compiled on stack and then deoptimized at the code
 * after it, batch after batch).
 */
function splitLate(sourceName: string, lateness: number, maxBefore: number, rows: readonly Row[], ts: Float64Array): OnTime {
  let maxTs = maxBefore;
  let i = 0;
  for (; i < rows.length; i++) {
    const t = ts[i] as number;
    if (t < maxTs - lateness) break;
    if (t > maxTs) maxTs = t;
  }
  if (i === rows.length) return { acceptedRows: rows as Row[], acceptedTs: ts, late: [], maxTs };
  const keepRows = rows.slice(0, i) as Row[];
  const keepTs = ts.slice();
  let kept = i;
  const late: DeadLetter[] = [];
  for (; i < rows.length; i++) {
    const t = ts[i] as number;
    const watermark = maxTs - lateness;
    if (t < watermark) {
      late.push(lateLetter(sourceName, rows[i], t, watermark, `(allowed lateness ${lateness} ms)`));
      continue;
    }
    if (t > maxTs) maxTs = t;
    keepRows.push(rows[i] as Row);
    keepTs[kept++] = t;
  }
  return { acceptedRows: keepRows, acceptedTs: keepTs.subarray(0, kept), late, maxTs };
}

/** A late row's dead letter: its time, the watermark it missed and why that watermark applies. */
function lateLetter(dataset: string, row: unknown, t: number, watermark: number, which: string): DeadLetter {
  return {
    dataset,
    reason: "late",
    row,
    eventTime: t,
    watermark,
    message: `event time ${new Date(t).toISOString()} is before the watermark ${new Date(watermark).toISOString()} ${which}`,
  };
}
