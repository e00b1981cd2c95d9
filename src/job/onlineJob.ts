import { wallClock, type Clock } from "../core/clock.js";
import { messageOf } from "../core/errorMessage.js";
import { DefinitionError, SourceError } from "../errors.js";
import type { FeatureStore } from "../featureStore/featureStore.js";
import type { OnError } from "../featureStore/inputs.js";
import { DEFAULT_BATCH, type RowSource } from "../sources/rowSource.js";
import type { SourcePosition, StreamSource } from "../sources/stream/streamSource.js";
import { encodeKey } from "../core/keys.js";
import type { Row } from "../core/schema.js";
import type { FeatureValue, OnlineStore, OnlineWrite } from "../stores/online/onlineStore.js";

/** One live input of a job: a stream feeding a dataset. */
export interface JobInput {
  /** The dataset its rows go to. */
  readonly dataset: string;
  readonly source: StreamSource;
  /** Names the source in checkpoints and metrics (default: the dataset). Keep it stable across restarts. */
  readonly name?: string;
  /** Rows that do not fit the dataset: fail the job (default) or dead-letter them. */
  readonly onError?: OnError;
}

export interface OnlineJobOptions {
  /** Time between checkpoints in ms (default 1,000). */
  readonly checkpointEveryMs?: number;
  /** Rows per read from a source, at most (default 10,000): also what a source holds in memory while the store catches up. */
  readonly batchSize?: number;
  /** How long a read waits for rows before returning none (default 200 ms). */
  readonly maxWaitMs?: number;
  /** Times checkpoints and rates (default: the wall clock). */
  readonly clock?: Clock;
  /** Called after each checkpoint is durable and acknowledged. */
  readonly onCheckpoint?: (c: CheckpointReport) => void;
  /**
   * Writes the tables' values to an online store at each checkpoint, just
   * before it is made durable, for servers that read it (namespace: the
   * table's name, key: the encoded key). Writes are in event-time order, with
   * the table's watermark as event time and the checkpoint's epoch: a job
   * replaying after a crash rewrites what it wrote before, loses nothing, and
   * never moves a stored value back in event time.
   */
  readonly exportTo?: JobExport;
}

export interface JobExport {
  readonly store: OnlineStore;
  /** The tables to export (aggregate or operator tables of the store). */
  readonly tables: readonly string[];
}

export interface CheckpointReport {
  /** Checkpoints written by this job since it started, this one included. */
  readonly count: number;
  readonly positions: Readonly<Record<string, SourcePosition>>;
  readonly durationMs: number;
}

export interface JobSourceStats {
  readonly name: string;
  readonly dataset: string;
  readonly kind: string;
  readonly description: string;
  /** Rows read from the source by this job. */
  readonly read: number;
  /** Rows acknowledged to the source after checkpoints. */
  readonly committed: number;
  /** Messages not yet read, when the source can tell (measured at the last checkpoint). */
  readonly lag: number | undefined;
  /** Bytes of the server's change log (WAL, binlog) after the last change read, for log-based sources (measured at the last checkpoint). */
  readonly lagBytes: number | undefined;
  /** Rows per second read over the last checkpoint interval. */
  readonly eventsPerSecond: number;
  /** The position of the last row in the store's state (saved by the next checkpoint). */
  readonly position: SourcePosition | undefined;
}

export interface JobStats {
  readonly running: boolean;
  readonly checkpoints: number;
  /** Wall time of the last checkpoint (ms), and how long it took. */
  readonly lastCheckpointAt: number | null;
  readonly lastCheckpointMs: number | null;
  readonly sources: JobSourceStats[];
}

interface Input {
  readonly name: string;
  readonly dataset: string;
  readonly source: StreamSource;
  readonly onError: OnError;
  position: SourcePosition | undefined;
  read: number;
  lag: number | undefined;
  lagBytes: number | undefined;
  readAtLastCheckpoint: number;
  rate: number;
}

/**
 * The online job (`freshet run`): reads each stream source, pushes its rows
 * through the store, and checkpoints. Each checkpoint makes the store's state,
 * history and every source's position durable in one commit; only then are
 * the rows acknowledged to the source. A restarted job resumes every source
 * from the positions of the newest intact checkpoint, so a row reaches the
 * state exactly once, whatever was acknowledged before a crash.
 *
 * Pushes and checkpoints run one at a time (a checkpoint never sees half a
 * batch). A source is read again only once its previous batch is in the
 * store: when the store is slower than the sources, consumption slows and at
 * most `batchSize` rows per source wait in memory.
 */
export class OnlineJob {
  private readonly inputs: Input[];
  private readonly every: number;
  private readonly batchSize: number;
  private readonly maxWaitMs: number;
  private readonly clock: Clock;
  private stopping = false;
  private failure: unknown;
  /** Serialises pushes and checkpoints. */
  private turn: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private checkpoints = 0;
  /** When the last checkpoint was considered (written, or skipped for lack of news): the next is due `every` later. */
  private lastTick = 0;
  private lastCheckpointAt: number | null = null;
  private lastCheckpointMs: number | null = null;
  private dirty = false;
  private loops: Promise<void> = Promise.resolve();
  private stopped: Promise<void> | undefined;
  /** Per exported table: the newest values of each key changed since the last export, with their event time. */
  private readonly exports = new Map<string, Map<string, OnlineWrite>>();
  private readonly unsubscribe: Array<() => void> = [];

  private constructor(
    private readonly store: FeatureStore,
    inputs: readonly JobInput[],
    private readonly options: OnlineJobOptions,
  ) {
    this.every = positive("checkpointEveryMs", options.checkpointEveryMs ?? 1_000);
    this.batchSize = positive("batchSize", options.batchSize ?? 10_000);
    // A push of at most one parse batch is all-or-nothing, so a failed push leaves state and position as they were.
    if (this.batchSize > DEFAULT_BATCH) throw new DefinitionError(`job: "batchSize" must be at most ${DEFAULT_BATCH}, got ${this.batchSize}`, { field: "batchSize" });
    this.maxWaitMs = positive("maxWaitMs", options.maxWaitMs ?? 200);
    this.clock = options.clock ?? wallClock;
    const names = new Set<string>();
    this.inputs = inputs.map((i) => {
      const name = i.name ?? i.dataset;
      if (names.has(name)) throw new DefinitionError(`job: two sources are named "${name}"; give each a distinct name`, { field: "name" });
      names.add(name);
      return { name, dataset: i.dataset, source: i.source, onError: i.onError ?? "throw", position: undefined, read: 0, lag: undefined, lagBytes: undefined, readAtLastCheckpoint: 0, rate: 0 };
    });
    if (this.inputs.length === 0) throw new DefinitionError("job: no stream sources to run");
  }

  /**
   * Opens every source at the position the store's newest checkpoint saved
   * for it (its configured start when there is none) and starts reading.
   */
  static async start(store: FeatureStore, inputs: readonly JobInput[], options: OnlineJobOptions = {}): Promise<OnlineJob> {
    const job = new OnlineJob(store, inputs, options);
    const saved = store.savedPositions();
    const datasets = new Set(store.list().datasets);
    for (const i of job.inputs) {
      if (!datasets.has(i.dataset)) throw new DefinitionError(`job source "${i.name}" feeds dataset "${i.dataset}", which is not applied`, { field: "dataset" });
    }
    const opened: Input[] = [];
    try {
      for (const i of job.inputs) {
        i.position = saved[i.name];
        await i.source.open(i.position);
        opened.push(i);
      }
    } catch (e) {
      for (const i of opened) await i.source.close().catch(() => {});
      throw e;
    }
    if (options.exportTo !== undefined) await job.startExports(options.exportTo);
    job.lastTick = job.clock.now();
    job.loops = Promise.all(job.inputs.map((i) => job.readLoop(i))).then(() => undefined);
    job.timer = setInterval(() => void job.tick(), Math.min(job.every, 1_000));
    job.timer.unref();
    return job;
  }

  /** Settles when the job has stopped: rejects with what made it fail. */
  get done(): Promise<void> {
    return this.loops.then(() => this.stopped);
  }

  stats(): JobStats {
    return {
      running: !this.stopping,
      checkpoints: this.checkpoints,
      lastCheckpointAt: this.lastCheckpointAt,
      lastCheckpointMs: this.lastCheckpointMs,
      sources: this.inputs.map((i) => ({
        name: i.name,
        dataset: i.dataset,
        kind: i.source.kind,
        description: i.source.description,
        read: i.read,
        committed: i.source.stats().committed,
        lag: i.lag,
        lagBytes: i.lagBytes,
        eventsPerSecond: i.rate,
        position: i.position,
      })),
    };
  }

  /** Checkpoints now (between batches) and acknowledges the rows it holds. A failed checkpoint fails the job, as a timed one does. */
  async checkpoint(): Promise<void> {
    try {
      await this.serially(() => this.checkpointNow());
    } catch (e) {
      this.fail(e);
      throw e;
    }
  }

  /**
   * Stops cleanly: lets each source's batch in flight reach the store, takes a
   * last checkpoint, acknowledges it and closes the sources. The store stays open.
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      if (this.timer !== undefined) clearInterval(this.timer);
      await this.loops.catch(() => {});
      try {
        if (this.failure === undefined) await this.serially(() => this.checkpointNow());
      } finally {
        for (const u of this.unsubscribe) u();
        for (const i of this.inputs) await i.source.close().catch(() => {});
      }
      if (this.failure !== undefined) throw this.failure;
    })();
    return this.stopped;
  }

  private async readLoop(input: Input): Promise<void> {
    while (!this.stopping) {
      let batch;
      try {
        batch = await input.source.next(this.batchSize, this.maxWaitMs);
      } catch (e) {
        this.fail(new SourceError(`job source "${input.name}" (${input.source.description}) failed: ${messageOf(e)}`, {}, { cause: e }));
        return;
      }
      if (batch.rows.length === 0) continue;
      const { rows, position } = batch;
      try {
        await this.serially(async () => {
          await this.store.push(input.dataset, asRowSource(input, rows), { onError: input.onError, position: { source: input.name, at: position } });
          input.position = position;
          input.read += rows.length;
          this.dirty = true;
        });
      } catch (e) {
        this.fail(e);
        return;
      }
      await this.tick();
    }
  }

  /** Checkpoints when one is due (from the read loops and a timer, for quiet sources). */
  private async tick(): Promise<void> {
    if (this.stopping || this.clock.now() - this.lastTick < this.every) return;
    await this.checkpoint().catch(() => {}); // the failure is the job's now (done rejects with it)
  }

  private async checkpointNow(): Promise<void> {
    const started = this.clock.now();
    const elapsed = Math.max(1, started - this.lastTick);
    const written = this.dirty || this.checkpoints === 0;
    if (written) {
      const positions: Record<string, SourcePosition> = {};
      for (const i of this.inputs) if (i.position !== undefined) positions[i.name] = i.position;
      // Exported before the checkpoint that holds these values: a crash in
      // between replays them from the previous checkpoint and exports them
      // again (the store keeps the newer of equal or older rewrites), whereas
      // exporting after it would lose what changed if the process died there.
      await this.export(this.store.epoch + 1);
      await this.store.checkpoint();
      this.dirty = false;
      // Acknowledged only now that the state holding these rows is durable.
      for (const i of this.inputs) if (i.position !== undefined) await i.source.commit(i.position);
      this.checkpoints++;
      this.options.onCheckpoint?.({ count: this.checkpoints, positions, durationMs: this.clock.now() - started });
    }
    for (const i of this.inputs) {
      i.rate = ((i.read - i.readAtLastCheckpoint) * 1_000) / elapsed;
      i.readAtLastCheckpoint = i.read;
      i.lag = await i.source.lag().catch(() => undefined);
      i.lagBytes = await i.source.lagBytes?.().catch(() => undefined);
    }
    this.lastTick = this.clock.now();
    if (written) {
      this.lastCheckpointAt = this.lastTick;
      this.lastCheckpointMs = this.lastTick - started;
    }
  }

  /**
   * Queues every key of the exported tables (what a crashed or failed run
   * may not have exported is rewritten; the store keeps the newer of equal
   * or older rewrites), then every key a push changes.
   */
  private async startExports(exp: JobExport): Promise<void> {
    for (const table of exp.tables) {
      const keys = this.store.describe(table).keys.map((c) => c.name);
      const pending = new Map<string, OnlineWrite>();
      this.exports.set(table, pending);
      const queue = (vectors: readonly Row[]): void => {
        const eventTime = this.store.watermark(table) ?? undefined;
        for (const v of vectors) {
          const key = encodeKey(keys.map((k) => v[k]));
          const features: Record<string, FeatureValue> = {};
          for (const [f, value] of Object.entries(v)) if (!keys.includes(f)) features[f] = value as FeatureValue;
          pending.set(key, { key, features, ...(eventTime === undefined ? {} : { eventTime }) });
        }
      };
      queue(await this.store.bulkQuery(table));
      this.unsubscribe.push(this.store.subscribe([table], queue));
    }
  }

  /** Writes what changed since the last export, as of the checkpoint `epoch` about to be written. */
  private async export(epoch: number): Promise<void> {
    const exp = this.options.exportTo;
    if (exp === undefined) return;
    for (const [table, pending] of this.exports) {
      if (pending.size === 0) continue;
      const rows = [...pending.values()].map((r) => ({ ...r, epoch }));
      await exp.store.write(table, rows, { now: this.clock.now(), order: "event-time" });
      pending.clear();
    }
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.turn.then(work);
    this.turn = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private fail(e: unknown): void {
    if (this.failure === undefined) this.failure = e;
    this.stopping = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    void this.stop().catch(() => {});
  }
}

/** A batch as a RowSource, so that errors name the stream the rows came from. */
function asRowSource(input: Input, rows: readonly unknown[]): RowSource {
  return {
    kind: input.source.kind,
    description: `${input.source.description} (source "${input.name}")`,
    text: input.source.text,
    size: rows.length,
    async *batches() {
      yield rows;
    },
  };
}

function positive(field: string, n: number): number {
  if (!Number.isFinite(n) || n <= 0) throw new DefinitionError(`job: "${field}" must be a number > 0, got ${n}`, { field });
  return n;
}
