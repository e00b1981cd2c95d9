/** The options and reports of FeatureStore's calls (see featureStore.ts). */
import type { Clock } from "../core/clock.js";
import type { EmittedRows } from "../engine/aggregateOperator.js";
import type { SourcePosition } from "../sources/stream/streamSource.js";
import type { TableHistoryStore } from "../stores/offline/tableHistoryStore.js";
import type { RedisCheckpointOptions } from "../stores/online/redisCheckpointMedium.js";
import type { OnError } from "./inputs.js";

export interface OpenOptions {
  /** Data directory: online state in LMDB, history in Parquet. Omit to keep everything in memory. */
  readonly dir?: string;
  /** Clock for online reads: "wall" (default), "event" (each table's source watermark) or a Clock. */
  readonly clock?: "wall" | "event" | Clock;
  /** How many dead letters to keep in memory (all are counted). Default 100,000. */
  readonly deadLetterCap?: number;
  /**
   * Where derived tables' histories are written by materializeOffline and
   * read by getOffline: Parquet files queried with DuckDB under `dir/tables`
   * by default with a data directory, or e.g. PostgresTableHistory. Without
   * one, getOffline computes histories from the recorded source history.
   */
  readonly tableHistory?: TableHistoryStore;
  /**
   * How the data directory keeps online state: "lmdb" (the default: one LMDB
   * transaction per commit) or "checkpoints" (a chain of checksummed
   * checkpoint files under dir/checkpoints; a damaged newest checkpoint falls
   * back to the one before it). `freshet run` uses "checkpoints". An object
   * `{ redis, prefix }` keeps the same checkpoint chain in Redis instead of
   * files (one hash per prefix; each checkpoint one MULTI/EXEC), with
   * history still under `dir`.
   */
  readonly state?: "lmdb" | "checkpoints" | RedisCheckpointOptions;
}

export interface Progress {
  readonly dataset: string;
  readonly phase: "read" | "replay";
  readonly rows: number;
  /** Total rows when the source knows it. */
  readonly total: number | undefined;
}

export interface MaterializeOptions {
  readonly onError?: OnError;
  /** Events per batch through the runtime (default 65,536). */
  readonly batchSize?: number;
  readonly onProgress?: (p: Progress) => void;
  /**
   * Receives each table's history rows: features as of every (key, event
   * time). Rows of one key arrive in event-time order; rows of different keys
   * interleave in an order that depends on `workers`. `rows.keys` is
   * computed when first read (a getter): a copy made by spreading or
   * `structuredClone` carries it only if read first (`{ ...rows, keys: rows.keys }`).
   */
  readonly onTableRows?: (table: string, rows: EmittedRows) => void;
  /**
   * Worker threads the tables' key groups are spread over during the replay.
   * "auto" (the default) uses one per core beyond the first (at most 8): from
   * the first batch for an input known to hold 200,000 rows or more (an
   * array, a source that tells its size), otherwise once 200,000 rows have
   * been replayed; a number uses that many from the first batch; 0 keeps
   * everything on the calling thread.
   */
  readonly workers?: number | "auto";
  /**
   * With a data directory: commit state and history every this many replayed
   * rows, so an interrupted backfill resumes from its last commit when it is
   * run again with the same inputs (rows already in the state are skipped).
   * The replay then stays on the calling thread (workers: 0).
   */
  readonly checkpointEvery?: number;
}

export interface IngestReport {
  /** Rows read from the input. */
  readonly read: number;
  /** Rows that reached the tables. */
  readonly accepted: number;
  /** Rows dead-lettered as late (before the watermark). */
  readonly late: number;
  /** Rows dead-lettered as invalid (with onError: "dead-letter"). */
  readonly invalid: number;
}

export interface PushOptions {
  readonly onError?: OnError;
  /**
   * Where these rows end in a live source (a job's source name and the
   * position after the last row): recorded with the state the push leaves,
   * so every later commit (checkpoint, flush, close) saves state and
   * positions together. Pushes of up to 65,536 rows are all-or-nothing.
   */
  readonly position?: { readonly source: string; readonly at: SourcePosition };
}

export interface OnlineReadOptions {
  /** Read as of this time instead of the store clock. */
  readonly at?: Date | number | string;
}

export interface HistoricalOptions {
  /** The entity rows' time field (default "ts"). */
  readonly timestampField?: string;
}

export interface DatasetStats {
  readonly accepted: number;
  readonly late: number;
  readonly invalid: number;
  /** Max event time seen minus allowed lateness; null before any event. */
  readonly watermark: Date | null;
}

export interface StoreStats {
  /** Where online state is kept: memory, an LMDB path, or checkpoints (files, or a Redis hash with the server's durability). */
  readonly state: string;
  readonly datasets: Record<string, DatasetStats>;
  /** Per table: keys, events kept in memory and the bytes of their state (arrays and tile snapshots). */
  readonly tables: Record<string, { keys: number; retainedEvents: number; stateBytes: number }>;
}
