/**
 * The online store: the latest value of each feature of each entity, as
 * served. A namespace ("view") groups the features of one entity type, like a
 * Feast feature view or a Realtime Feature Store feature group; keys are
 * entity ids, already encoded as strings by the caller (see core/keys.ts).
 *
 * Implementations (memory, LMDB, Redis) pass one conformance suite
 * (test/onlineStore.conformance.ts). Stores never read a clock: every write
 * carries its write time and every read its read time, so TTL tests are exact.
 */

/** A JSON value: what a feature value may be. */
export type FeatureValue = string | number | boolean | null | readonly FeatureValue[] | { readonly [key: string]: FeatureValue };

/** Feast's statuses: a value is served as PRESENT only when it exists, is not null and is within its TTL. */
export type FeatureStatus = "PRESENT" | "NOT_FOUND" | "NULL_VALUE" | "OUTSIDE_MAX_AGE";

export interface OnlineWrite {
  /** Encoded entity key. */
  readonly key: string;
  /** Features to set; features of this key that are not named keep their values. */
  readonly features: Readonly<Record<string, FeatureValue>>;
  /** Event time of these values (ms since the epoch, UTC); defaults to the write time. */
  readonly eventTime?: number;
  /**
   * Checkpoint epoch of the job that computed these values: a whole number
   * >= 0, default 0. Stored with the values; under `order: "event-time"` it
   * breaks ties between writes of one event time (a replay after a restore
   * writes with a higher epoch than the run that crashed).
   */
  readonly epoch?: number;
}

/**
 * How a write meets the values already stored:
 * - "write": every named feature is replaced (last write wins). The HTTP ingest routes use it.
 * - "event-time": a feature is replaced only when the write's (eventTime, epoch)
 *   is >= the stored one's, compared in that order; otherwise it keeps its
 *   value and its write time (so its TTL is not refreshed). Replaying a job's
 *   output after a crash then neither moves a value backwards nor changes it twice.
 */
export type WriteOrder = "write" | "event-time";

export interface FeatureRead {
  /** The value when PRESENT, otherwise null (an expired value is never returned). */
  readonly value: FeatureValue;
  readonly status: FeatureStatus;
  /** Event time of the value (ms), or null when NOT_FOUND. */
  readonly eventTime: number | null;
}

export interface ReadOptions {
  /** Read time (ms since the epoch). */
  readonly now: number;
  /**
   * Time to live per feature in ms, counted from the value's last write:
   * older values read as null with status OUTSIDE_MAX_AGE. A feature without
   * an entry never expires.
   */
  readonly ttlMs?: Readonly<Record<string, number>>;
}

export interface WriteOptions {
  /** Write time (ms since the epoch): TTLs count from it, so rewriting a value refreshes it. */
  readonly now: number;
  /**
   * The longest TTL of the namespace in ms, if every feature has one: lets a
   * store drop the entry itself once nothing in it can be served (Redis PEXPIRE).
   */
  readonly expireAfterMs?: number;
  /** Default "write"; see WriteOrder. Each feature of each row is decided on its own. */
  readonly order?: WriteOrder;
}

export interface OnlineStore {
  /** "memory", "lmdb" or "redis": shown in stats and logs. */
  readonly kind: string;
  /**
   * Applies every row or none (one transaction / MULTI / script), rows in
   * order: a later row for the same key sees the earlier one. Under
   * `order: "event-time"` the comparison with the stored cell happens inside
   * that same transaction, so concurrent writers cannot interleave with it.
   */
  write(namespace: string, rows: readonly OnlineWrite[], options: WriteOptions): Promise<void>;
  /**
   * For each key (in order), for each feature (in order), its value and
   * status. One round trip to the store whatever the number of keys.
   */
  read(namespace: string, keys: readonly string[], features: readonly string[], options: ReadOptions): Promise<FeatureRead[][]>;
  /** Names of the features a key has values for (expired ones included). */
  featuresOf(namespace: string, key: string): Promise<string[]>;
  /** Removes one feature's values for every key of the namespace (its served values). */
  deleteFeature(namespace: string, feature: string): Promise<void>;
  /** Removes everything stored under the namespace. */
  dropNamespace(namespace: string): Promise<void>;
  close(): Promise<void>;
}
