import type { FeatureColumn } from "../engine/windowReaders.js";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { wallClock, type Clock } from "../core/clock.js";
import type { Row, Schema } from "../core/schema.js";
import { toEpochMs } from "../core/time.js";
import { buildTrainingSet, readPointInTime, rowsWith, type HistoricalColumns, type HistoricalColumnsOptions, type TrainingSetSpec } from "./trainingSet.js";
import { replayRecorded, type ReplayOptions, type ReplayReport } from "./recordedStream.js";
import { checkSkew, type ServedRead, type SkewReport } from "./skewCheck.js";
import type { AggregateOperator, EmittedRows } from "../engine/aggregateOperator.js";
import { DeadLetterSink, type DeadLetter } from "../engine/deadLetters.js";
import { Runtime, type SourceRuntime, type TableRowsSink, type TableRuntime } from "../engine/runtime.js";
import { DefinitionError, SchemaError, StoreClosedError, TimestampError, UnknownDatasetError, UnknownTableError } from "../errors.js";
import { explainTable } from "../plan/explain.js";
import { sourceOf, type SourceDef, type TableDef } from "../plan/nodes.js";
import type { HistoryStore } from "../stores/offline/historyStore.js";
import { MemoryHistory } from "../stores/offline/memoryHistory.js";
import { ParquetHistory } from "../stores/offline/parquetHistory.js";
import type { SourcePosition } from "../sources/stream/streamSource.js";
import { MemoryStateStore, type StateStore } from "../stores/online/stateStore.js";
import type { AnyTable, TableKeys, TableMeta, TableRow } from "../dsl/table.js";
import { OnDemandFeature, type AnyOnDemand, type InputsOf, type KeysOf, type OnDemandInput, type OnDemandRow } from "../dsl/onDemand.js";
import { computeOnDemand } from "./onDemand.js";
import { Subscriptions } from "./subscriptions.js";
import type { OperatorTableRuntime } from "../engine/operatorTable.js";
import type { PolicyStats } from "../engine/policies/policyStats.js";
import { keepsRows, replayOperatorHistory, seedSteps, sourcesOf } from "./historical.js";
import type { HistoryBatch } from "../stores/offline/historyStore.js";
import { SourceDataset } from "../dsl/dataset.js";
import { replayHistory } from "./historical.js";
import { HistoryReplicas } from "./historyReplicas.js";
import { eventTimesAsOf } from "./pointInTimeRead.js";
import { OfflineRowCollector, type OfflineQuery } from "./offlineRows.js";
import { historyMarker, TableHistoryWriter, writeWhole } from "./tableHistories.js";
import type { TableHistoryStore } from "../stores/offline/tableHistoryStore.js";
import { ParquetTableHistory } from "../stores/offline/parquetTableHistory.js";
import { rowsToArrow } from "../stores/offline/arrowTable.js";
import type { Table as ArrowTable } from "apache-arrow";
import { parseSource, type RowInput } from "./inputs.js";
import { replayDataset } from "./replay.js";
import { DeadLetterFile } from "./deadLetterFile.js";
import { openStateStore, persist, restore, savedArrivals, savedProgress, type BackfillMark } from "./persistence.js";
import { inputFingerprint } from "./inputs.js";
import { WorkerPool } from "../engine/parallel/pool.js";
import { batchSizeOption } from "../sources/rowSource.js";
import { describeDataset, describeTable, latestEventTimes, type DatasetInfo, type TableInfo } from "./catalog.js";

export type { OpenOptions, Progress, MaterializeOptions, IngestReport, PushOptions, OnlineReadOptions, HistoricalOptions, DatasetStats, StoreStats } from "./storeOptions.js";
import type { OpenOptions, MaterializeOptions, IngestReport, PushOptions, OnlineReadOptions, HistoricalOptions, DatasetStats, StoreStats } from "./storeOptions.js";

type Definition = SourceDataset<string, Schema> | AnyTable | TableDef | AnyOnDemand;

/** With workers: "auto", rows replayed on the calling thread before worker threads are worth starting. */
const AUTO_PARALLEL_AFTER = 200_000;

/**
 * The embedded feature store: applies definitions, replays history
 * (materializeOffline), takes live events (push), and answers online and
 * point-in-time reads from the same runtime.
 */
export class FeatureStore {
  private readonly runtime: Runtime;
  private readonly deadLetterSink: DeadLetterSink;
  private readonly replicas: HistoryReplicas;
  private readonly onDemand = new Map<string, AnyOnDemand>();
  private readonly tableMeta = new Map<string, TableMeta>();
  private readonly subscriptions = new Subscriptions();
  private readonly deadLetterFile: DeadLetterFile | undefined;
  private closed = false;
  /** Settles when the running materializeOffline (if any) has ended. */
  private replaying: Promise<void> = Promise.resolve();
  /** Settles when the running push (if any) has ended. */
  private pushing: Promise<void> = Promise.resolve();
  /** The last commit of state and history, which the next waits for. */
  private committing: Promise<void> = Promise.resolve();
  /** Where each live source stands, saved with every commit (see checkpoint). */
  private positions: Record<string, SourcePosition>;

  private constructor(
    private readonly clock: "event" | Clock,
    private readonly states: StateStore,
    private readonly history: HistoryStore,
    deadLetterCap: number,
    dir: string | undefined,
    private readonly tableHistory: TableHistoryStore | undefined,
  ) {
    this.deadLetterSink = new DeadLetterSink(deadLetterCap);
    this.replicas = new HistoryReplicas(history);
    this.runtime = new Runtime(this.deadLetterSink, history, () => (clock === "event" ? wallClock.now() : clock.now()));
    this.deadLetterFile = dir === undefined ? undefined : new DeadLetterFile(join(dir, "dead-letters.jsonl"), this.deadLetterSink);
    this.positions = { ...savedProgress(states).positions };
  }

  /** Opens a store: in memory with no arguments, persistent with `dir`. */
  static async open(options: OpenOptions = {}): Promise<FeatureStore> {
    const clockOpt = options.clock ?? "wall";
    const clock = clockOpt === "wall" ? wallClock : clockOpt;
    if (options.dir === undefined) {
      if (options.state !== undefined && options.state !== "lmdb") throw new DefinitionError('FeatureStore.open: "state" needs "dir" (the history is kept there); without dir everything is in memory', { field: "state" });
      return new FeatureStore(clock, new MemoryStateStore(), new MemoryHistory(), options.deadLetterCap ?? 100_000, undefined, options.tableHistory);
    }
    await mkdir(join(options.dir, "offline"), { recursive: true });
    const states = await openStateStore(options.dir, options.state ?? "lmdb");
    const tables = options.tableHistory ?? new ParquetTableHistory(join(options.dir, "tables"));
    const store = new FeatureStore(clock, states, new ParquetHistory(join(options.dir, "offline")), options.deadLetterCap ?? 100_000, options.dir, tables);
    await store.deadLetterFile?.open(savedProgress(states).deadLetterBytes);
    return store;
  }

  /** Registers source datasets and feature tables. Sources of tables are registered with them. */
  async apply(definitions: readonly Definition[]): Promise<void> {
    this.assertOpen();
    const sources: SourceRuntime[] = [];
    const tables: TableRuntime[] = [];
    const addSource = (def: SourceDef): void => {
      if (!this.runtime.sources.has(def.name)) sources.push(this.runtime.addSource(def));
    };
    const features: AnyOnDemand[] = [];
    const operatorTables: OperatorTableRuntime[] = [];
    const hadLookup = new Set([...this.runtime.sources.values()].filter((s) => s.lookup !== undefined));
    for (const d of definitions) {
      if (d instanceof SourceDataset) addSource(d.def);
      else if (d instanceof OnDemandFeature) features.push(d);
      else if ("root" in d && (d.root.kind === "aggregate" || d.root.kind === "operator")) {
        if (this.runtime.tables.has(d.name) || this.runtime.operatorTables.has(d.name)) throw new DefinitionError(`table "${d.name}" is already applied`);
        addSource(sourceOf(d.root));
        this.tableMeta.set(d.name, "meta" in d ? d.meta : {});
        if (d.root.kind === "aggregate") tables.push(this.runtime.addTable({ name: d.name, root: d.root }));
        else operatorTables.push(this.runtime.addOperatorTable({ name: d.name, root: d.root }));
      } else throw new DefinitionError("apply() takes datasets from dataset(), tables from .aggregate(...).as(name) and onDemand(...) features");
    }
    for (const f of features) {
      if (this.onDemand.has(f.name) || this.runtime.tables.has(f.name) || this.runtime.operatorTables.has(f.name)) throw new DefinitionError(`"${f.name}" is already applied`);
      for (const t of f.inputs) if (!this.runtime.tables.has(t.name) && !this.runtime.operatorTables.has(t.name)) throw new DefinitionError(`on-demand feature "${f.name}" reads table "${t.name}", which is not applied; apply it first or in the same call`);
      this.onDemand.set(f.name, f);
    }
    try {
      // History flushed after the last state commit (a crash in between) is dropped: state and history agree.
      const marks = savedProgress(this.states).history;
      const fresh = this.states.meta() === undefined;
      for (const src of sources) {
        if (marks !== undefined || fresh) await this.history.discardAfter(src.def.name, marks?.[src.def.name] ?? 0);
      }
      const unseen = restore({ sources, tables }, this.states, this.deadLetterSink);
      // Later batches are numbered after every batch in the history.
      this.runtime.arrivals = Math.max(this.runtime.arrivals, savedArrivals(this.states));
      // A table added to a source that already has events starts from that history.
      for (const t of unseen) {
        if (sourcesOf(t).every((d) => this.history.version(d.name) === 0 && this.runtime.sources.get(d.name)?.accepted === 0)) continue;
        replayHistory(t, await this.replicas.histories(t), t.operator);
        t.operator.markDirty([...t.operator.states.values()]);
        t.operator.advanceWatermark(t.source.watermark);
      }
      await this.seedOnlineState(tables, hadLookup);
      // Operator tables keep their outputs in memory: rebuilt from the history they read.
      for (const t of operatorTables) {
        const src = t.source.def;
        if (this.history.version(src.name) === 0 && t.source.accepted === 0) continue;
        await replayOperatorHistory(t, await this.history.scan(src.name, src.schema, src.timestamp));
      }
    } catch (e) {
      // A definition that fails on the existing history is not applied (nothing of this call is).
      for (const t of tables) this.runtime.removeTable(t.def.name);
      for (const t of operatorTables) this.runtime.removeTable(t.def.name);
      for (const f of features) this.onDemand.delete(f.name);
      throw e;
    }
  }

  /**
   * What a table's online joins and steps keep in memory, from the recorded
   * history, for tables just applied (after a restart, or to datasets that
   * already have events):
   * a joined dataset's versions for lookups, and the rows an interval join
   * or a dedup keeps (the history replayed through the table's own steps,
   * their output dropped: the table's state already counts it). Without
   * this, events arriving now would not meet the earlier ones online, while
   * point-in-time reads, which replay the history, would.
   */
  private async seedOnlineState(tables: readonly TableRuntime[], hadLookup: ReadonlySet<SourceRuntime>): Promise<void> {
    const scan = (d: SourceDef): Promise<HistoryBatch> | undefined =>
      d.record === false || (this.history.version(d.name) === 0 && this.runtime.sources.get(d.name)?.accepted === 0) ? undefined : this.history.scan(d.name, d.schema, d.timestamp);
    for (const t of tables) {
      const right = t.join?.right;
      if (right?.lookup !== undefined && !hadLookup.has(right)) {
        const h = await scan(right.def);
        if (h !== undefined) right.lookup.add(h.rows, h.ts);
      }
      if (!keepsRows(t.def.root)) continue;
      const histories = new Map<string, HistoryBatch>();
      for (const d of sourcesOf(t)) {
        const h = await scan(d);
        if (h !== undefined) histories.set(d.name, h);
      }
      if (histories.size > 0) seedSteps(t, histories);
    }
  }

  /**
   * Replays history: each dataset's rows are sorted by event time (ties keep
   * input order) and fed through the runtime in large batches.
   */
  async materializeOffline(inputs: Readonly<Record<string, RowInput>>, options: MaterializeOptions = {}): Promise<Record<string, IngestReport>> {
    this.assertOpen();
    const reports: Record<string, IngestReport> = {};
    const batchSize = batchSizeOption("materializeOffline", options.batchSize);
    const w = options.workers ?? "auto";
    if (w !== "auto" && !(Number.isInteger(w) && w >= 0)) {
      throw new DefinitionError(`materializeOffline: "workers" must be "auto" or a whole number >= 0, got ${String(w)}`, { field: "workers" });
    }
    const every = options.checkpointEvery;
    if (every !== undefined && !(Number.isInteger(every) && every > 0)) {
      throw new DefinitionError(`materializeOffline: "checkpointEvery" must be a whole number > 0, got ${String(every)}`, { field: "checkpointEvery" });
    }
    // Checkpoints commit the tables' state, which a parallel replay holds in worker threads.
    const workers = every !== undefined ? 0 : w === "auto" ? WorkerPool.defaultSize() : w;
    const parallelAfter = w === "auto" ? AUTO_PARALLEL_AFTER : 0;
    // One replay at a time; reads and flushes wait for it (during a parallel
    // replay the tables' state lives in worker threads).
    const previous = this.replaying;
    let done = (): void => {};
    this.replaying = new Promise<void>((resolve) => (done = resolve));
    const listener = this.runtime.onUpdate;
    try {
      await previous;
      this.runtime.onUpdate = undefined; // replays do not notify subscribers
      this.runtime.replaying = true;
      await this.replayAll(inputs, options, reports, { batchSize, workers, parallelAfter });
    } finally {
      this.runtime.replaying = false;
      this.runtime.onUpdate = this.subscriptions.active ? this.subscriptions.collect : listener;
      done();
    }
    await this.flush();
    return reports;
  }

  /**
   * A time range of a table's history (Volga's get_offline): one row per
   * (key, event time) with the features as of that event, computed from the
   * recorded history of the table's sources, ordered by time. `format:
   * "arrow"` gives an Apache Arrow table; writeRows(path, rows) writes
   * Parquet or CSV.
   */
  async getOffline(table: string | AnyTable, query?: OfflineQuery & { readonly format?: "rows" }): Promise<Row[]>;
  async getOffline(table: string | AnyTable, query: OfflineQuery & { readonly format: "arrow" }): Promise<ArrowTable>;
  async getOffline(table: string | AnyTable, query: OfflineQuery & { readonly format?: "rows" | "arrow" } = {}): Promise<Row[] | ArrowTable> {
    this.assertOpen();
    await this.replaying;
    const t = this.table(table);
    const keys = t.def.root.keys;
    const collector = new OfflineRowCollector(keys, t.operator.layout.features.map((f) => f.name), query);
    const th = this.tableHistory;
    let rows: Row[];
    if (th !== undefined && (await th.marker(t.def.name)) === historyMarker(this.runtime, t)) {
      // The stored history is current: the offline store answers the range.
      rows = await th.query(t.def.name, collector.storeQuery(query.keys === undefined ? undefined : query.keys.map((k) => keys.map((f) => k[f]))));
    } else {
      const histories = await this.replicas.histories(t);
      const compute = (sink: (rows: EmittedRows) => void): void => void replayHistory(t, histories, undefined, sink);
      // Computed from the recorded history, and stored for the next reads when there is a store.
      if (th === undefined) compute(collector.sink);
      else
        await writeWhole(th, this.runtime, t, async (_t, sink) =>
          compute((r) => {
            sink(r);
            collector.sink(r);
          }),
        );
      rows = collector.sorted();
    }
    return query.format === "arrow" ? rowsToArrow(rows) : rows;
  }

  /** An interrupted backfill's progress per dataset (rows of which input are committed), from the data directory. */
  backfillProgress(): BackfillMark {
    return savedProgress(this.states).backfill ?? {};
  }

  private async replayAll(
    inputs: Readonly<Record<string, RowInput>>,
    options: MaterializeOptions,
    reports: Record<string, IngestReport>,
    o: { batchSize: number; workers: number; parallelAfter: number },
  ): Promise<void> {
    const { batchSize, workers, parallelAfter } = o;
    const names = Object.keys(inputs);
    // Every table reading a replayed dataset gets its history written to the offline store.
    const writer =
      this.tableHistory === undefined
        ? undefined
        : await TableHistoryWriter.start(
            this.tableHistory,
            this.runtime,
            [...this.runtime.tables.values()].filter((t) => sourcesOf(t).some((d) => names.includes(d.name))),
          );
    const userEmit = options.onTableRows;
    const emit: TableRowsSink | undefined =
      writer === undefined
        ? userEmit
        : (table, rows) => {
            writer.sink(table, rows);
            userEmit?.(table, rows);
          };
    const pending = savedProgress(this.states).backfill ?? {};
    const progress: Record<string, { input: string; rows: number; complete: boolean }> = {};
    for (const [name, input] of Object.entries(inputs)) {
      const src = this.sourceDef(name);
      const before = this.counts(name);
      const fingerprint = inputFingerprint(input);
      const resumed = pending[name];
      if (resumed !== undefined && resumed.input !== fingerprint) {
        throw new DefinitionError(
          `materializeOffline: an interrupted backfill of "${name}" from ${resumed.input} holds ${resumed.rows} rows; run it again with that input to resume, or start from a new data directory`,
          { dataset: name },
        );
      }
      if (resumed?.complete === true) {
        progress[name] = resumed;
        reports[name] = { read: 0, accepted: 0, late: 0, invalid: 0 };
        continue;
      }
      const skip = resumed?.rows ?? 0;
      progress[name] = { input: fingerprint, rows: skip, complete: false };
      const every = options.checkpointEvery;
      const read = await replayDataset(this.runtime, this.deadLetterSink, src, input, {
        skip,
        ...(every === undefined
          ? {}
          : {
              checkpoint: {
                every,
                save: async (rows) => {
                  progress[name] = { input: fingerprint, rows, complete: false };
                  await this.commitDurably({ ...progress });
                },
              },
            }),
        onError: options.onError ?? "throw",
        batchSize,
        emit,
        workers,
        parallelAfter,
        onProgress: options.onProgress === undefined ? undefined : (p) => options.onProgress?.({ dataset: name, ...p }),
      });
      reports[name] = this.report(name, before, read);
      if (options.checkpointEvery !== undefined) {
        progress[name] = { input: fingerprint, rows: Number.MAX_SAFE_INTEGER, complete: true };
        await this.commitDurably({ ...progress });
      }
    }
    // The replayed datasets ended: joins waiting for them go through, and their rows are final.
    this.runtime.endOfInput(names, emit);
    if (emit !== undefined) for (const name of names) this.runtime.finish(name, emit);
    await writer?.finish(async (t, sink) => void replayHistory(t, await this.replicas.histories(t), undefined, sink));
  }

  /** Online ingestion: rows go through the same runtime, incrementally. */
  async push(dataset: string, rows: RowInput, options: PushOptions = {}): Promise<IngestReport> {
    this.assertOpen();
    const src = this.sourceDef(dataset);
    const before = this.counts(dataset);
    let read = 0;
    // Pushes run one at a time: an operator table may await user code mid-push.
    const previous = this.pushing;
    let done = (): void => {};
    this.pushing = new Promise<void>((resolve) => (done = resolve));
    try {
      await previous;
      this.runtime.checkIdle();
      for await (const b of parseSource(src, rows, options.onError ?? "throw", this.deadLetterSink)) {
        read = b.read;
        await this.runtime.ingestAsync(dataset, b.rows, b.ts);
      }
      if (options.position !== undefined) this.positions[options.position.source] = options.position.at;
    } finally {
      done();
    }
    if (this.subscriptions.active) await this.subscriptions.deliver((table, keys) => this.getOnline(table, keys));
    return this.report(dataset, before, read);
  }

  /**
   * Combined outputs for real-time inference: after each push, `callback`
   * gets one vector per key that changed in any of `tables` (which must share
   * their key fields): the key fields and every table's features, read at the
   * store clock. Replays (materializeOffline) do not notify. Returns a
   * function that ends the subscription.
   */
  subscribe<const Ts extends readonly AnyTable[]>(tables: Ts, callback: (vectors: Array<InputsOf<Ts>>) => void | Promise<void>): () => void;
  subscribe(tables: readonly string[], callback: (vectors: Row[]) => void | Promise<void>): () => void;
  subscribe(tables: ReadonlyArray<string | AnyTable>, callback: (vectors: Row[]) => void | Promise<void>): () => void {
    this.assertOpen();
    const unsubscribe = this.subscriptions.add(
      tables.map((t) => this.table(t)),
      callback,
    );
    this.runtime.onUpdate = this.subscriptions.collect;
    return () => {
      unsubscribe();
      if (!this.subscriptions.active) this.runtime.onUpdate = undefined;
    };
  }

  /** One row per key, in order: key fields plus features, as of the store clock or `at`. */
  async getOnline<F extends AnyOnDemand>(feature: F, rows: ReadonlyArray<OnDemandInput<F>>, options?: OnlineReadOptions): Promise<Array<OnDemandRow<F>>>;
  async getOnline<T extends AnyTable>(table: T, keys: ReadonlyArray<TableKeys<T>>, options?: OnlineReadOptions): Promise<Array<TableRow<T>>>;
  async getOnline(table: string, keys: readonly Row[], options?: OnlineReadOptions): Promise<Row[]>;
  async getOnline(table: string | AnyTable | AnyOnDemand, keys: readonly Row[], options: OnlineReadOptions = {}): Promise<Row[]> {
    this.assertOpen();
    await this.replaying;
    const f = table instanceof OnDemandFeature ? this.onDemandFeature(table.name) : typeof table === "string" ? this.onDemand.get(table) : undefined;
    if (f !== undefined) {
      const first = f.inputs[0];
      const at = this.readTime(first === undefined ? undefined : this.table(first), options);
      return computeOnDemand(f, keys, () => at, (t, rows) => this.getOnline(t.name, rows, { at }));
    }
    this.runtime.checkIdle();
    const ot = this.runtime.operatorTables.get(typeof table === "string" ? table : table.name);
    if (ot !== undefined) {
      const at = this.readTime(ot, options);
      return ot.read(keys, () => at);
    }
    const t = this.table(table as string | AnyTable);
    const at = this.readTime(t, options);
    return this.readRows(t, t.operator, keys, at);
  }

  /** One key's current row (ralf's point query): the key as its value, or as an object of key fields. */
  async pointQuery<T extends AnyTable>(table: T, key: TableKeys<T> | TableKeys<T>[keyof TableKeys<T>]): Promise<TableRow<T>>;
  async pointQuery(table: string, key: unknown): Promise<Row>;
  async pointQuery(table: string | AnyTable, key: unknown): Promise<Row> {
    const name = typeof table === "string" ? table : table.name;
    const keys = this.runtime.operatorTables.get(name)?.def.root.keys ?? this.table(name).def.root.keys;
    let row: Row;
    if (typeof key === "object" && key !== null) row = key as Row;
    else if (keys.length === 1) row = { [keys[0] as string]: key };
    else throw new SchemaError(`pointQuery: table "${name}" has the key fields [${keys.join(", ")}]; pass them as an object`, { field: "key" });
    return (await this.getOnline(name, [row]))[0] as Row;
  }

  /** Every known key's current row (ralf's bulk query). */
  async bulkQuery<T extends AnyTable>(table: T): Promise<Array<TableRow<T>>>;
  async bulkQuery(table: string): Promise<Row[]>;
  async bulkQuery(table: string | AnyTable): Promise<Row[]> {
    this.assertOpen();
    await this.replaying;
    const name = typeof table === "string" ? table : table.name;
    const ot = this.runtime.operatorTables.get(name);
    if (ot !== undefined) return ot.all();
    const t = this.table(name);
    // Keys in memory, and those only in the state store (persisted, not loaded since a restart).
    const keys = new Set(t.operator.states.keys());
    if (t.join === undefined) for (const k of this.states.keys(name)) keys.add(k);
    const rows: Row[] = [];
    for (const k of keys) {
      const st = t.operator.lookup(k);
      if (st !== undefined) rows.push(Object.fromEntries(t.def.root.keys.map((f, i) => [f, st.keyValues[i]])));
    }
    return this.getOnline(name, rows);
  }

  /** The time of an online read: `at`, or the store clock (a table's watermark with clock "event"). */
  private readTime(t: { readonly watermark: number } | undefined, options: OnlineReadOptions): number {
    let at: number;
    if (options.at !== undefined) {
      const ms = toEpochMs(options.at);
      if (ms === undefined) throw new TimestampError(`"at" is not a readable timestamp: ${String(options.at)}`, { field: "at" });
      at = ms;
    } else if (this.clock === "event") {
      at = t === undefined ? Number.NEGATIVE_INFINITY : t.watermark;
    } else {
      at = this.clock.now();
    }
    return at;
  }

  /**
   * Point-in-time reads: for each entity row, its fields plus every feature as
   * of the row's timestamp, from events with event time <= that timestamp only.
   * With `columns: true`, the features as columns instead of rows (what
   * training sets read: no row object per entity row and table).
   */
  async getHistorical<const Ts extends readonly AnyTable[], E extends KeysOf<Ts>>(tables: Ts, entityRows: readonly E[], options?: HistoricalOptions): Promise<Array<E & InputsOf<Ts>>>;
  async getHistorical(tables: readonly string[], entityRows: readonly Row[], options?: HistoricalOptions): Promise<Row[]>;
  async getHistorical(table: string | AnyTable | AnyOnDemand, entityRows: readonly Row[], options: HistoricalColumnsOptions): Promise<HistoricalColumns>;
  async getHistorical<F extends AnyOnDemand, E extends OnDemandInput<F>>(feature: F, entityRows: readonly E[], options?: HistoricalOptions): Promise<Array<E & OnDemandRow<F>>>;
  async getHistorical<T extends AnyTable, E extends TableKeys<T>>(table: T, entityRows: readonly E[], options?: HistoricalOptions): Promise<Array<E & TableRow<T>>>;
  async getHistorical(table: string, entityRows: readonly Row[], options?: HistoricalOptions): Promise<Row[]>;
  async getHistorical(table: string | AnyTable | AnyOnDemand | ReadonlyArray<string | AnyTable>, entityRows: readonly Row[], options: HistoricalOptions | HistoricalColumnsOptions = {}): Promise<Row[] | HistoricalColumns> {
    this.assertOpen();
    if (isTableList(table)) return this.historicalOfTables(table, entityRows, options);
    await this.replaying;
    const name = typeof table === "string" ? table : table.name;
    const f = table instanceof OnDemandFeature ? this.onDemandFeature(table.name) : typeof table === "string" ? this.onDemand.get(table) : undefined;
    const field = options.timestampField ?? "ts";
    const columns = "columns" in options && options.columns;
    const given = "columns" in options ? options.times : undefined;
    if (given !== undefined && given.length !== entityRows.length) {
      throw new DefinitionError(`getHistorical: "times" has ${given.length} entries for ${entityRows.length} entity rows`, { field: "times" });
    }
    const times = given ?? new Float64Array(entityRows.length);
    for (let i = 0; given === undefined && i < entityRows.length; i++) {
      const r = entityRows[i] as Row;
      const v = r[field];
      // Epoch ms inline and stored on its own branch: merged with a call's
      // result, each number would be boxed (a heap number per row).
      if (typeof v === "number" && Number.isFinite(v)) {
        times[i] = Math.trunc(v);
        continue;
      }
      const ms = toEpochMs(v);
      if (ms === undefined) {
        throw new TimestampError(`entity row ${i} has no readable "${field}" timestamp (got ${JSON.stringify(r[field] ?? null)})`, { row: i, field });
      }
      times[i] = ms;
    }
    const t = f === undefined && !this.runtime.operatorTables.has(name) ? this.table(table as string | AnyTable) : undefined;
    if (t !== undefined) {
      const op = await this.replicas.aggregate(t);
      if (!columns) return this.readRows(t, op, entityRows, times, true);
      const read = readPointInTime(op, t.def.name, entityRows, times, "eventTimes" in options && options.eventTimes === true);
      return { features: new Map(op.layout.features.map((feat, k) => [feat.name, read.columns[k] as FeatureColumn])), eventTimes: read.eventTimes };
    }
    // An on-demand feature reads its input tables at the rows' own times: given times go into the rows.
    const rows = given === undefined ? entityRows : rowsWith(entityRows, [{ name: field, values: given }]);
    let computed: Row[];
    if (f !== undefined) computed = await computeOnDemand(f, rows, (i) => times[i] as number, (input, r) => this.getHistorical(input.name, r, { timestampField: field }));
    else computed = (await this.replicas.operatorTable(this.runtime.operatorTables.get(name) as OperatorTableRuntime)).read(rows, (i) => times[i] as number);
    if (!columns) return computed.map((r, i) => ({ ...entityRows[i], ...r }));
    // Operator tables and on-demand features read row by row; their rows are turned into columns.
    const features = this.describe(name).features.map((c): [string, unknown[]] => [c.name, computed.map((r) => r[c.name] ?? null)]);
    return { features: new Map(features), eventTimes: "eventTimes" in options && options.eventTimes === true ? computed.map(() => Number.NaN) : undefined };
  }

  /**
   * getHistorical over several tables (Feast's feature views of one entity
   * row): each table reads its own key fields from the row; the result has
   * the row's fields and every table's features. Feature names must not clash.
   */
  private async historicalOfTables(tables: ReadonlyArray<string | AnyTable>, entityRows: readonly Row[], options: HistoricalOptions): Promise<Row[]> {
    if ("columns" in options) throw new DefinitionError("getHistorical: columns: true reads one table; pass one table", { field: "columns" });
    if (tables.length === 0) throw new DefinitionError("getHistorical: the list of tables is empty", { field: "tables" });
    const owner = new Map<string, string>();
    for (const t of tables) {
      const name = typeof t === "string" ? t : t.name;
      for (const c of this.describe(name).features) {
        const other = owner.get(c.name);
        if (other !== undefined) throw new DefinitionError(`getHistorical: tables "${other}" and "${name}" both have a feature "${c.name}"; read them separately or use trainingSet, which names columns`, { field: "tables" });
        owner.set(c.name, name);
      }
    }
    const out = entityRows.map((r) => ({ ...r }));
    for (const t of tables) {
      const rows = await this.getHistorical(typeof t === "string" ? t : t.name, entityRows, options);
      for (let i = 0; i < out.length; i++) Object.assign(out[i] as Row, rows[i]);
    }
    return out;
  }

  /**
   * The online/offline skew check: recomputes served reads (a read log's
   * entries) as of their read times and reports per feature the mismatch
   * rate, missing and extra values, and SMAPE for numbers.
   */
  async checkSkew(reads: readonly ServedRead[]): Promise<SkewReport> {
    this.assertOpen();
    return checkSkew((table, rows, o) => this.getHistorical(table, rows, o), reads);
  }

  /**
   * Replays the recorded events of source datasets (every accepted event is
   * recorded in the offline history) in event-time order, into another store
   * or a callback, at full speed or paced (`speed`: a multiple of real time).
   */
  async replay(options: ReplayOptions): Promise<ReplayReport> {
    this.assertOpen();
    await this.replaying;
    const defs = options.sources.map((name) => this.sourceDef(name));
    for (const d of defs) if (d.record === false) throw new DefinitionError(`replay: dataset "${d.name}" is not recorded (record: false)`, { dataset: d.name });
    return replayRecorded((name) => {
      const d = defs.find((x) => x.name === name) as SourceDef;
      return this.history.scan(d.name, d.schema, d.timestamp);
    }, options);
  }

  /**
   * A point-in-time training set (Featurizer's feature-label sets): each
   * entity row with the selected features as of its timestamp (never later),
   * optional max ages, and labels read a lookahead after it. See TrainingSetSpec.
   */
  async trainingSet(spec: TrainingSetSpec): Promise<Row[]> {
    this.assertOpen();
    return buildTrainingSet(this, spec);
  }

  /**
   * For each entity row, the event time of its key's latest event at or
   * before the row's timestamp (null: none yet; NaN: unknown for operator
   * tables' and on-demand reads). Training sets use it for max ages.
   */
  async pointInTimeEventTimes(table: string, entityRows: readonly Row[], options: HistoricalOptions = {}): Promise<Array<number | null>> {
    this.assertOpen();
    await this.replaying;
    const t = this.runtime.tables.get(table);
    if (t === undefined) {
      this.describe(table);
      return entityRows.map(() => Number.NaN);
    }
    return eventTimesAsOf(await this.replicas.aggregate(t), t.def.name, entityRows, options.timestampField ?? "ts");
  }

  private onDemandFeature(name: string): AnyOnDemand {
    const f = this.onDemand.get(name);
    if (f === undefined) throw new UnknownTableError(name, [...this.runtime.tables.keys(), ...this.onDemand.keys()]);
    return f;
  }

  /** What an operator table's processing policy did (`.policy({...})`): queue, staleness, shed, dropped and merged updates. */
  policyStats(table: string | AnyTable): PolicyStats {
    const name = typeof table === "string" ? table : table.name;
    const stats = this.runtime.operatorTables.get(name)?.policyStats();
    if (stats === undefined) throw new DefinitionError(`table "${this.describe(name).name}" has no processing policy; define one with .apply(op, { output }).policy({ ... })`);
    return stats;
  }

  private readRows(t: TableRuntime, op: AggregateOperator, inputs: readonly Row[], time: number | Float64Array, keepInput = false): Row[] {
    const { columns } = readPointInTime(op, t.def.name, inputs, time, false);
    const features = op.layout.features.map((f, k) => ({ name: f.name, values: columns[k] as FeatureColumn, nanIsNull: true }));
    return keepInput ? rowsWith(inputs, features) : rowsWith(inputs, features, op.layout.keys);
  }

  /** The time online reads of a table use now (its watermark with clock "event"). */
  now(table: string | AnyTable): Date | null {
    const t = this.table(table);
    const ms = this.clock === "event" ? t.watermark : this.clock.now();
    return Number.isFinite(ms) ? new Date(ms) : null;
  }

  /** Dead letters kept in memory (late and invalid rows), optionally of one dataset. */
  deadLetters(dataset?: string): DeadLetter[] {
    return this.deadLetterSink.list(dataset);
  }

  stats(): StoreStats {
    const datasets: Record<string, DatasetStats> = {};
    for (const [name, s] of this.runtime.sources) {
      datasets[name] = {
        accepted: s.accepted,
        late: this.deadLetterSink.count(name, "late"),
        invalid: this.deadLetterSink.count(name, "invalid"),
        watermark: Number.isFinite(s.watermark) ? new Date(s.watermark) : null,
      };
    }
    const tables: Record<string, { keys: number; retainedEvents: number; stateBytes: number }> = {};
    for (const [name, t] of this.runtime.tables) tables[name] = { keys: t.operator.states.size, retainedEvents: t.operator.retainedEvents(), stateBytes: t.operator.stateBytes() };
    for (const [name, t] of this.runtime.operatorTables) tables[name] = { keys: t.keyCount, retainedEvents: 0, stateBytes: 0 };
    return { state: this.states.description, datasets, tables };
  }

  /** Keys and features of an applied table, operator table or on-demand feature. */
  describe(name: string | AnyTable): TableInfo {
    const n = typeof name === "string" ? name : name.name;
    const info = describeTable(this.runtime, this.onDemand, n, this.tableMeta.get(n) ?? {});
    if (info === undefined) throw new UnknownTableError(n, [...this.runtime.tables.keys(), ...this.runtime.operatorTables.keys(), ...this.onDemand.keys()]);
    return info;
  }

  /** Schema of an applied source dataset. */
  describeDataset(name: string): DatasetInfo {
    const info = describeDataset(this.runtime, name);
    if (info === undefined) throw new UnknownDatasetError(name, [...this.runtime.sources.keys()]);
    return info;
  }

  /**
   * For each key row, the event time of the key's latest event in the table:
   * null for a key the table has never seen, NaN when unknown (state from an
   * older format). Serving uses it for NOT_FOUND and TTLs.
   */
  async latestEventTimes(name: string, keys: readonly Row[]): Promise<Array<number | null>> {
    this.assertOpen();
    await this.replaying;
    // A name check, not describe(): this runs on every served batch read.
    if (!this.runtime.tables.has(name) && !this.runtime.operatorTables.has(name) && !this.onDemand.has(name)) {
      throw new UnknownTableError(name, [...this.runtime.tables.keys(), ...this.runtime.operatorTables.keys(), ...this.onDemand.keys()]);
    }
    return latestEventTimes(this.runtime, name, keys);
  }

  /** A text rendering of a table's plan. */
  explain(table: string | AnyTable): string {
    const ot = this.runtime.operatorTables.get(typeof table === "string" ? table : table.name);
    return explainTable(ot !== undefined ? ot.def : this.table(table).def);
  }

  /** Names of applied tables and source datasets. */
  list(): { datasets: string[]; tables: string[]; onDemand: string[] } {
    return { datasets: [...this.runtime.sources.keys()], tables: [...this.runtime.tables.keys(), ...this.runtime.operatorTables.keys()], onDemand: [...this.onDemand.keys()] };
  }

  /**
   * A job's checkpoint: history, online state and the position each live
   * source reached (given with the pushes), durable in one commit; returns
   * its epoch. A job reopened on the same directory resumes each source from
   * `savedPositions()`, so every row is counted once.
   */
  async checkpoint(): Promise<number> {
    this.assertOpen();
    await this.pushing;
    await this.replaying;
    return this.commitDurably(undefined);
  }

  /** The epoch of the last commit (checkpoints, flushes): 0 before any. A job's next checkpoint is this + 1. */
  get epoch(): number {
    return savedProgress(this.states).epoch ?? 0;
  }

  /** Event time up to which a table has its input (its sources' watermark), in ms; null before any event. */
  watermark(table: string | AnyTable): number | null {
    const name = typeof table === "string" ? table : table.name;
    const w = this.runtime.operatorTables.get(name)?.watermark ?? this.table(name).watermark;
    return Number.isFinite(w) ? w : null;
  }

  /** The source positions the newest checkpoint saved (empty before any). */
  savedPositions(): Readonly<Record<string, SourcePosition>> {
    return { ...savedProgress(this.states).positions };
  }

  /** Makes history and online state durable (a no-op in memory). */
  async flush(): Promise<void> {
    this.assertOpen();
    await this.replaying;
    const schemas = new Map([...this.runtime.sources].map(([n, s]) => [n, { schema: s.def.schema, timestamp: s.def.timestamp }]));
    await this.commitDurably(undefined, schemas);
  }

  /**
   * History first, then the state with the history marks in one commit: a
   * crash between the two leaves history the next open discards (see apply),
   * so history and state always agree. `backfill` records a backfill under way.
   */
  private commitDurably(backfill: BackfillMark | undefined, schemas = new Map([...this.runtime.sources].map(([n, s]) => [n, { schema: s.def.schema, timestamp: s.def.timestamp }]))): Promise<number> {
    // One commit at a time: each numbers its epoch from the one before (a Redis state store commits asynchronously).
    const run = this.committing.then(async () => {
      await this.history.flush(schemas);
      await this.deadLetterFile?.flush();
      return persist(this.runtime, this.states, this.deadLetterSink, {
        history: await this.history.marks(),
        positions: this.positions,
        ...(backfill === undefined ? {} : { backfill }),
        ...(this.deadLetterFile === undefined ? {} : { deadLetterBytes: this.deadLetterFile.bytes }),
      });
    });
    this.committing = run.then(
      () => {},
      () => {},
    );
    return run;
  }


  async close(): Promise<void> {
    if (this.closed) return;
    // A policy's background workers (a concurrency budget) finish their queue first: nothing writes after close.
    await this.pushing;
    for (const t of this.runtime.operatorTables.values()) await t.settled();
    await this.flush();
    this.closed = true;
    await this.states.close();
    await this.history.close();
    await this.tableHistory?.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  private table(table: string | AnyTable): TableRuntime {
    const name = typeof table === "string" ? table : table.name;
    const t = this.runtime.tables.get(name);
    if (t === undefined) throw new UnknownTableError(name, [...this.runtime.tables.keys(), ...this.runtime.operatorTables.keys(), ...this.onDemand.keys()]);
    return t;
  }

  private sourceDef(name: string): SourceDef {
    const s = this.runtime.sources.get(name);
    if (s === undefined) throw new UnknownDatasetError(name, [...this.runtime.sources.keys()]);
    return s.def;
  }

  private counts(dataset: string): { accepted: number; late: number; invalid: number } {
    return {
      accepted: this.runtime.sources.get(dataset)?.accepted ?? 0,
      late: this.deadLetterSink.count(dataset, "late"),
      invalid: this.deadLetterSink.count(dataset, "invalid"),
    };
  }

  private report(dataset: string, before: { accepted: number; late: number; invalid: number }, read: number): IngestReport {
    const now = this.counts(dataset);
    return { read, accepted: now.accepted - before.accepted, late: now.late - before.late, invalid: now.invalid - before.invalid };
  }
}

function isTableList(value: string | AnyTable | AnyOnDemand | ReadonlyArray<string | AnyTable>): value is ReadonlyArray<string | AnyTable> {
  return Array.isArray(value);
}
