/**
 * The registry as one JSON file in the data directory (e.g.
 * `<dataDir>/registry.json`): loaded whole at open, rewritten whole on each
 * change. A write goes to a temporary file in the same directory, is flushed
 * to disk, and is renamed over the registry file, so a crash leaves either the
 * old file or the new one, never a half-written one. Writes run one at a time
 * (a queue), and memory changes only after its write succeeded, so a failed
 * write leaves both the file and what the registry answers as they were.
 *
 * Statistics are the exception: recordValues updates memory at once and the
 * file with the next change, or by a timer within STATS_FLUSH_MS (about a
 * second), whichever comes first. close() writes whatever is pending, so only
 * a crash can lose statistics, and at most that last second of them. A failed
 * timer write leaves them pending: the next change or close() writes them
 * again, and close() reports the failure.
 *
 * One process owns the file: two registries open on the same path would
 * overwrite each other's changes.
 *
 * FileRegistry.inMemory() is the same registry without a file (nothing is
 * written; everything is gone at close): for tests and for serving without a
 * data directory.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { wallClock, type Clock } from "../core/clock.js";
import { StorageError } from "../errors.js";
import { FeatureStatsAccumulator, type FeatureStatsJson } from "./featureStats.js";
import type {
  EntityRecord,
  EntitySpec,
  FeatureRecord,
  FeatureSpec,
  FeatureStats,
  Registry,
  TableRecord,
  TableSpec,
} from "./registry.js";
import { ENTITY_KEY_TYPES, FEATURE_DATA_TYPES, TABLE_KINDS, featureReference, planEntity, planFeature, planTable } from "./registryRules.js";
import { messageOf } from "../core/errorMessage.js";
import { syncDirectory, writeFileDurably } from "../core/durableFile.js";

/** The usual name of the registry file inside a data directory. */
export const REGISTRY_FILE_NAME = "registry.json";
/** Longest time recorded statistics wait in memory before they are written. */
export const STATS_FLUSH_MS = 1_000;

export interface FileRegistryOptions {
  /** Source of createdAt/updatedAt; the wall clock by default. */
  readonly clock?: Clock;
}

/** What the file holds. `nextFeatureId` only grows, so a deleted feature's id is never given to another. */
interface RegistryState {
  readonly nextFeatureId: number;
  readonly features: ReadonlyMap<number, FeatureRecord>;
  readonly entities: ReadonlyMap<string, EntityRecord>;
  readonly tables: ReadonlyMap<string, TableRecord>;
}

export class FileRegistry implements Registry {
  readonly kind = "file";
  private state: RegistryState;
  private readonly accumulators: Map<string, FeatureStatsAccumulator>;
  /** Statistics changed in memory since the last write. */
  private statsDirty = false;
  private flushTimer: NodeJS.Timeout | undefined;
  /** Tail of the write queue: every operation that changes state chains on it. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    /** The registry file; undefined for an in-memory registry. */
    readonly path: string | undefined,
    loaded: { state: RegistryState; stats: Map<string, FeatureStatsAccumulator> },
    private readonly clock: Clock,
  ) {
    this.state = loaded.state;
    this.accumulators = loaded.stats;
  }

  /**
   * Opens the registry stored at `path` (a file; its directory is created if
   * needed). A missing file is an empty registry; an unreadable or corrupt one
   * is a StorageError naming the file.
   */
  static async open(path: string, options: FileRegistryOptions = {}): Promise<FileRegistry> {
    let text: string | undefined;
    try {
      text = await readFile(path, "utf8");
    } catch (e) {
      if (!isNotFound(e)) throw new StorageError(`Cannot read the registry file ${path}: ${messageOf(e)}`, { cause: e });
    }
    if (text === undefined) {
      try {
        await mkdir(dirname(path), { recursive: true });
      } catch (e) {
        throw new StorageError(`Cannot create the directory of the registry file ${path}: ${messageOf(e)}`, { cause: e });
      }
    }
    const loaded = text === undefined ? emptyRegistry() : parseRegistryFile(text, path);
    await removeStaleTemporaries(path);
    return new FileRegistry(path, loaded, options.clock ?? wallClock);
  }

  /** A registry that keeps everything in memory and writes nothing. */
  static inMemory(options: FileRegistryOptions = {}): FileRegistry {
    return new FileRegistry(undefined, emptyRegistry(), options.clock ?? wallClock);
  }

  registerFeature(spec: FeatureSpec): Promise<FeatureRecord> {
    return this.change(() => {
      const existing = [...this.state.features.values()].find((f) => f.name === spec.name);
      const plan = planFeature(existing, spec, this.now());
      const id = existing?.id ?? this.state.nextFeatureId;
      const record: FeatureRecord = { id, ...plan };
      const features = new Map(this.state.features).set(id, record);
      return { next: { ...this.state, features, nextFeatureId: Math.max(this.state.nextFeatureId, id + 1) }, result: record };
    });
  }

  async getFeature(id: number): Promise<FeatureRecord | undefined> {
    this.assertOpen();
    return this.state.features.get(id);
  }

  async findFeature(name: string): Promise<FeatureRecord | undefined> {
    this.assertOpen();
    return [...this.state.features.values()].find((f) => f.name === name);
  }

  /** In id order. */
  async listFeatures(filter: { readonly entity?: string; readonly view?: string } = {}): Promise<FeatureRecord[]> {
    this.assertOpen();
    return [...this.state.features.values()]
      .filter((f) => (filter.entity === undefined || f.entity === filter.entity) && (filter.view === undefined || f.view === filter.view))
      .sort((a, b) => a.id - b.id);
  }

  deleteFeature(id: number): Promise<FeatureRecord | undefined> {
    return this.change(() => {
      const record = this.state.features.get(id);
      if (record === undefined) return { next: undefined, result: undefined };
      const features = new Map(this.state.features);
      features.delete(id);
      return { next: { ...this.state, features }, result: record, dropStats: featureReference(record) };
    });
  }

  registerEntity(spec: EntitySpec): Promise<EntityRecord> {
    return this.change(() => {
      const existing = this.state.entities.get(spec.name);
      const record = planEntity(existing, spec, this.now());
      if (record === existing) return { next: undefined, result: record };
      return { next: { ...this.state, entities: new Map(this.state.entities).set(record.name, record) }, result: record };
    });
  }

  /** In name order. */
  async listEntities(): Promise<EntityRecord[]> {
    this.assertOpen();
    return [...this.state.entities.values()].sort((a, b) => compareNames(a.name, b.name));
  }

  registerTable(spec: TableSpec): Promise<TableRecord> {
    return this.change(() => {
      const existing = this.state.tables.get(spec.name);
      const record = planTable(existing, spec, this.now());
      if (record === existing) return { next: undefined, result: record };
      return { next: { ...this.state, tables: new Map(this.state.tables).set(record.name, record) }, result: record };
    });
  }

  async getTable(name: string): Promise<TableRecord | undefined> {
    this.assertOpen();
    return this.state.tables.get(name);
  }

  /** In name order. */
  async listTables(): Promise<TableRecord[]> {
    this.assertOpen();
    return [...this.state.tables.values()].sort((a, b) => compareNames(a.name, b.name));
  }

  deleteTable(name: string): Promise<TableRecord | undefined> {
    return this.change(() => {
      const record = this.state.tables.get(name);
      if (record === undefined) return { next: undefined, result: undefined };
      const tables = new Map(this.state.tables);
      tables.delete(name);
      return { next: { ...this.state, tables }, result: record };
    });
  }

  /** Memory now, the file within STATS_FLUSH_MS (see the file comment). */
  recordValues(feature: string, values: readonly unknown[]): Promise<void> {
    return this.enqueue(async () => {
      if (values.length === 0) return;
      let acc = this.accumulators.get(feature);
      if (acc === undefined) {
        acc = new FeatureStatsAccumulator();
        this.accumulators.set(feature, acc);
      }
      acc.addAll(values);
      this.statsDirty = true;
      if (this.path !== undefined) this.flushTimer ??= setTimeout(() => this.flushInBackground(), STATS_FLUSH_MS).unref();
    });
  }

  async stats(feature: string): Promise<FeatureStats | undefined> {
    this.assertOpen();
    return this.accumulators.get(feature)?.snapshot();
  }

  /** Writes pending statistics, then refuses further calls. Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.enqueue(async () => {
      this.clearFlushTimer();
      if (this.statsDirty) await this.write(this.state);
      this.closed = true;
    });
  }

  private now(): Date {
    return new Date(this.clock.now());
  }

  /**
   * Runs `plan` in the queue; when it returns a next state, writes it (with
   * all statistics) and only then makes it current.
   */
  private change<T>(plan: () => { next: RegistryState | undefined; result: T; dropStats?: string }): Promise<T> {
    return this.enqueue(async () => {
      const { next, result, dropStats } = plan();
      if (next === undefined) return result;
      const dropped = dropStats === undefined ? undefined : this.accumulators.get(dropStats);
      if (dropStats !== undefined) this.accumulators.delete(dropStats);
      try {
        await this.write(next);
      } catch (e) {
        if (dropStats !== undefined && dropped !== undefined) this.accumulators.set(dropStats, dropped);
        throw e;
      }
      this.state = next;
      return result;
    });
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      this.assertOpen();
      return op();
    });
    // The queue continues after a failed operation; the caller sees the failure.
    this.queue = run.catch(() => undefined);
    return run;
  }

  private flushInBackground(): void {
    this.flushTimer = undefined;
    this.enqueue(async () => {
      if (this.statsDirty) await this.write(this.state);
    }).catch(() => {
      // Nobody awaits the timer. The statistics stay dirty, so the next change
      // writes them again, and close() retries and reports a failure.
    });
  }

  private clearFlushTimer(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  /** Writes `state` and the current statistics atomically (temporary file, fsync, rename). */
  private async write(state: RegistryState): Promise<void> {
    if (this.path === undefined) {
      this.statsDirty = false;
      return;
    }
    const text = `${JSON.stringify(serialize(state, this.accumulators), null, 2)}\n`;
    const temp = `${this.path}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await writeFileDurably(this.path, text, temp);
      await syncDirectory(dirname(this.path));
    } catch (e) {
      throw new StorageError(`Cannot write the registry file ${this.path}: ${messageOf(e)}`, { cause: e });
    }
    this.statsDirty = false;
    this.clearFlushTimer();
  }

  private assertOpen(): void {
    if (this.closed) {
      const which = this.path === undefined ? "The in-memory registry" : `The registry file ${this.path}`;
      throw new StorageError(`${which} is closed; open it again with FileRegistry.open().`);
    }
  }
}

// ---------------------------------------------------------------------------
// The file format. Dates are ISO strings; statistics are FeatureStatsJson.

const FILE_FORMAT = 1;

const exactString = z.string().exactOptional();
const metadataShape = {
  description: exactString,
  owner: exactString,
  tags: z.record(z.string(), z.string()).exactOptional(),
};
const isoDate = z.iso.datetime().transform((s) => new Date(s));
const positiveInt = z.number().int().positive();
const columnSchema = z.object({ name: z.string().min(1), type: z.string().min(1) });
const timesShape = { version: positiveInt, createdAt: isoDate, updatedAt: isoDate.nullable() };

const featureSchema = z.object({
  id: positiveInt,
  name: z.string().min(1),
  entity: z.string().min(1),
  dataType: z.enum(FEATURE_DATA_TYPES),
  featureGroup: z.string().min(1).exactOptional(),
  ttlSeconds: positiveInt.exactOptional(),
  isNullable: z.boolean().exactOptional(),
  source: exactString,
  transformation: exactString,
  view: z.string().min(1),
  ...metadataShape,
  ...timesShape,
});
const entitySchema = z.object({ name: z.string().min(1), keyType: z.enum(ENTITY_KEY_TYPES), ...metadataShape, ...timesShape });
const tableSchema = z.object({
  name: z.string().min(1),
  kind: z.enum(TABLE_KINDS),
  keys: z.array(columnSchema),
  fields: z.array(columnSchema),
  ttlSeconds: positiveInt.exactOptional(),
  ...metadataShape,
  ...timesShape,
});
const fileSchema = z.object({
  format: z.literal(FILE_FORMAT),
  nextFeatureId: positiveInt,
  features: z.array(featureSchema),
  entities: z.array(entitySchema),
  tables: z.array(tableSchema),
  stats: z.record(z.string(), z.unknown()),
});

interface RegistryFile {
  readonly format: typeof FILE_FORMAT;
  readonly nextFeatureId: number;
  readonly features: readonly FeatureRecord[];
  readonly entities: readonly EntityRecord[];
  readonly tables: readonly TableRecord[];
  readonly stats: Readonly<Record<string, FeatureStatsJson>>;
}

function emptyRegistry(): { state: RegistryState; stats: Map<string, FeatureStatsAccumulator> } {
  return { state: { nextFeatureId: 1, features: new Map(), entities: new Map(), tables: new Map() }, stats: new Map() };
}

function serialize(state: RegistryState, stats: ReadonlyMap<string, FeatureStatsAccumulator>): RegistryFile {
  return {
    format: FILE_FORMAT,
    nextFeatureId: state.nextFeatureId,
    features: [...state.features.values()].sort((a, b) => a.id - b.id),
    entities: [...state.entities.values()],
    tables: [...state.tables.values()],
    stats: Object.fromEntries([...stats].map(([ref, acc]) => [ref, acc.toJSON()])),
  };
}

function parseRegistryFile(text: string, path: string): { state: RegistryState; stats: Map<string, FeatureStatsAccumulator> } {
  const corrupt = (why: string, cause?: unknown): StorageError =>
    new StorageError(
      `The registry file ${path} is corrupt: ${why}. Restore it from a backup, or move it away to start with an empty registry.`,
      { cause },
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw corrupt(`not JSON (${messageOf(e)})`, e);
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) throw corrupt(z.prettifyError(parsed.error), parsed.error);
  const f = parsed.data;
  const features = new Map<number, FeatureRecord>();
  for (const feature of f.features) {
    if (features.has(feature.id)) throw corrupt(`feature id ${feature.id} appears twice`);
    if (feature.id >= f.nextFeatureId) throw corrupt(`feature id ${feature.id} is not below nextFeatureId ${f.nextFeatureId}`);
    features.set(feature.id, feature);
  }
  const stats = new Map<string, FeatureStatsAccumulator>();
  for (const [ref, json] of Object.entries(f.stats)) {
    try {
      stats.set(ref, FeatureStatsAccumulator.fromJSON(json, `statistics of "${ref}"`));
    } catch (e) {
      throw corrupt(messageOf(e), e);
    }
  }
  return {
    state: {
      nextFeatureId: f.nextFeatureId,
      features,
      entities: new Map(f.entities.map((e) => [e.name, e])),
      tables: new Map(f.tables.map((t) => [t.name, t])),
    },
    stats,
  };
}

/** Temporary files a crash left between write and rename: never renamed, so never part of the registry. */
async function removeStaleTemporaries(path: string): Promise<void> {
  const prefix = `${basename(path)}.`;
  const names = await readdir(dirname(path)).catch(() => []);
  for (const name of names) {
    if (name.startsWith(prefix) && /^[0-9a-f]{12}\.tmp$/.test(name.slice(prefix.length))) {
      await rm(join(dirname(path), name), { force: true }).catch(() => undefined);
    }
  }
}


function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isNotFound(e: unknown): boolean {
  return e instanceof Error && "code" in e && e.code === "ENOENT";
}

