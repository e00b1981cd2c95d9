import type { RowInput } from "../featureStore/inputs.js";

/**
 * What a definitions module may configure for `freshet serve`, as its
 * `serve` export: `export const serve = defineServe({ online: "redis://..." })`.
 * Command-line flags win over it.
 */
export interface ServeConfig {
  /** Online store of registered features: "memory", "lmdb" (in the data directory) or a Redis URL. */
  readonly online?: string;
  /** Redis key prefix (default "freshet"). */
  readonly redisPrefix?: string;
  /** Registry: "file" (in the data directory, or memory without one) or a PostgreSQL URL. */
  readonly registry?: string;
  /** Store clock for online reads: "wall" (default) or "event" (each table's watermark). */
  readonly clock?: "wall" | "event";
  /** History replayed at start into datasets that have none yet (e.g. { flights: parquetSource(path) }). */
  readonly materialize?: Readonly<Record<string, RowInput>>;
}

/** Types a module's `serve` export. */
export function defineServe(config: ServeConfig): ServeConfig {
  return config;
}
