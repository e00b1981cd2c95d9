import type { Schema } from "../core/schema.js";
import type { OperatorTableDef, Row, SourceDef, TableDef } from "../plan/nodes.js";
import { sourceOf, stepChain } from "../plan/nodes.js";
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
  append(dataset: string, schema: Schema, rows: readonly Row[], ts: Float64Array): void;
}

/** Event-time bookkeeping of one source: watermark = max event time − lateness. */
export class SourceRuntime {
  maxTs = Number.NEGATIVE_INFINITY;
  accepted = 0;
  readonly tables: TableRuntime[] = [];
  readonly operatorTables: OperatorTableRuntime[] = [];
  constructor(readonly def: SourceDef) {}

  get watermark(): number {
    return this.maxTs - this.def.lateness;
  }
}

export class TableRuntime {
  readonly steps: RowSteps;
  readonly operator: AggregateOperator;
  /** Set while a parallel replay holds this table's state in worker threads. */
  partitioned: PartitionedAggregate | undefined;
  constructor(
    readonly def: TableDef,
    readonly source: SourceRuntime,
  ) {
    this.steps = compileSteps(stepChain(def.root), source.def.lateness);
    this.operator = new AggregateOperator(def.name, def.root);
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
  /** Set while someone subscribes to table updates (store.subscribe); unset, ingest pays nothing. */
  onUpdate: TableUpdateListener | undefined;

  constructor(
    private readonly deadLetters: DeadLetterSink,
    private readonly history: HistorySink,
  ) {}

  addSource(def: SourceDef): SourceRuntime {
    const existing = this.sources.get(def.name);
    if (existing !== undefined) return existing;
    const s = new SourceRuntime(def);
    this.sources.set(def.name, s);
    return s;
  }

  addTable(def: TableDef): TableRuntime {
    const source = this.addSource(sourceOf(def.root));
    const t = new TableRuntime(def, source);
    source.tables.push(t);
    this.tables.set(def.name, t);
    return t;
  }

  addOperatorTable(def: OperatorTableDef): OperatorTableRuntime {
    const source = this.addSource(sourceOf(def.root));
    const t = new OperatorTableRuntime(def, source);
    source.operatorTables.push(t);
    this.operatorTables.set(def.name, t);
    return t;
  }

  /** Forgets a table (an apply that failed); its source stays. */
  removeTable(name: string): void {
    const t = this.tables.get(name);
    if (t !== undefined) t.source.tables.splice(t.source.tables.indexOf(t), 1);
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
      for (let i = 0; i < p.src.operatorTables.length; i++) staged.push(await (p.src.operatorTables[i] as OperatorTableRuntime).compute(p.opInputs[i] as Batch));
    } catch (e) {
      this.rollback(p.src);
      throw e;
    }
    return this.commit(p, staged, emit);
  }

  /**
   * The part of an ingest that runs user code and changes nothing for good:
   * the late check (computed, not applied) and every table's steps (staged).
   */
  private prepare(sourceName: string, rows: readonly Row[], ts: Float64Array): Prepared {
    const src = this.sources.get(sourceName);
    if (src === undefined) throw new Error(`runtime: unknown source ${sourceName}`);
    const lateness = src.def.lateness;
    let maxTs = src.maxTs;
    let keepRows: Row[] | undefined;
    let keepTs: Float64Array | undefined;
    let kept = 0;
    const late: DeadLetter[] = [];
    for (let i = 0; i < rows.length; i++) {
      const t = ts[i] as number;
      const watermark = maxTs - lateness;
      if (t < watermark) {
        if (keepRows === undefined) {
          keepRows = rows.slice(0, i) as Row[];
          keepTs = ts.slice();
          kept = i;
        }
        late.push({
          dataset: sourceName,
          reason: "late",
          row: rows[i],
          eventTime: t,
          watermark,
          message: `event time ${new Date(t).toISOString()} is before the watermark ${new Date(watermark).toISOString()} (allowed lateness ${lateness} ms)`,
        });
        continue;
      }
      if (t > maxTs) maxTs = t;
      if (keepRows !== undefined && keepTs !== undefined) {
        keepRows.push(rows[i] as Row);
        keepTs[kept++] = t;
      }
    }
    const acceptedRows = keepRows ?? (rows as Row[]);
    const acceptedTs = keepTs === undefined ? ts : keepTs.subarray(0, kept);
    // User code (the tables' steps, the operators, then the sink) runs where a
    // throw cannot leave the source, its history and its tables disagreeing:
    // every step first, then the batch is committed to all of them, then rows
    // are emitted.
    let inputs: Batch[] = [];
    let opInputs: Batch[] = [];
    if (acceptedRows.length > 0) {
      try {
        const batch = { rows: acceptedRows, ts: acceptedTs };
        inputs = src.tables.map((table) => table.steps(batch));
        opInputs = src.operatorTables.map((table) => table.steps(batch));
      } catch (e) {
        this.rollback(src);
        throw e;
      }
    }
    return { src, late, maxTs, acceptedRows, acceptedTs, inputs, opInputs };
  }

  private rollback(src: SourceRuntime): void {
    for (const table of src.tables) table.steps.rollback();
    for (const table of src.operatorTables) table.steps.rollback();
  }

  private commit(p: Prepared, staged: readonly StagedOutputs[], emit: TableRowsSink | undefined): number {
    const { src, late, acceptedRows, acceptedTs, inputs } = p;
    for (const table of src.tables) table.steps.commit();
    for (const table of src.operatorTables) table.steps.commit();
    for (const d of late) this.deadLetters.add(d);
    src.maxTs = p.maxTs;
    src.accepted += acceptedRows.length;
    if (acceptedRows.length === 0) return 0;
    this.history.append(src.def.name, src.def.schema, acceptedRows, acceptedTs);
    for (let i = 0; i < src.tables.length; i++) {
      const table = src.tables[i] as TableRuntime;
      const b = inputs[i] as Batch;
      if (table.partitioned !== undefined) table.partitioned.send(b.rows, b.ts, src.watermark, emit !== undefined);
      else table.operator.process(b.rows, b.ts, emit !== undefined);
    }
    staged.forEach((s, i) => (src.operatorTables[i] as OperatorTableRuntime).commit(s));
    for (const table of src.tables) {
      if (table.partitioned !== undefined) continue;
      if (emit !== undefined) table.operator.emit(src.watermark, (r) => emit(table.def.name, r));
      table.operator.advanceWatermark(src.watermark);
    }
    const listener = this.onUpdate;
    if (listener !== undefined) src.tables.forEach((table, i) => listener(table, (inputs[i] as Batch).rows));
    return acceptedRows.length;
  }

  /** End of a replay: every pending (key, time) row is final (partitioned tables emit theirs when closed). */
  finish(sourceName: string, emit: TableRowsSink): void {
    const src = this.sources.get(sourceName);
    if (src === undefined) return;
    for (const table of src.tables) if (table.partitioned === undefined) table.operator.emit(Number.POSITIVE_INFINITY, (r) => emit(table.def.name, r));
  }
}
