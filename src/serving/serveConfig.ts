import { DefinitionError } from "../errors.js";
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
  /**
   * Inputs per source tag (Volga's source tags): one dataset can read a file
   * offline and another input live, e.g.
   * `{ offline: { flights: parquetSource(path) }, online: { flights: ... } }`.
   */
  readonly sources?: Readonly<Record<string, Readonly<Record<string, RowInput>>>>;
  /**
   * History replayed at start into datasets that have none yet: inputs per
   * dataset (e.g. { flights: parquetSource(path) }), or the name of a tag in `sources`.
   */
  readonly materialize?: Readonly<Record<string, RowInput>> | string;
}

/** The inputs `materialize` names: its own mapping, or the `sources` of its tag. */
export function materializeInputs(config: ServeConfig): Readonly<Record<string, RowInput>> {
  const m = config.materialize;
  if (m === undefined) return {};
  if (typeof m !== "string") return m;
  const tagged = config.sources?.[m];
  if (tagged === undefined) {
    throw new DefinitionError(`serve.materialize names the source tag "${m}", but serve.sources has ${Object.keys(config.sources ?? {}).map((t) => `"${t}"`).join(", ") || "no tags"}`, { field: "materialize" });
  }
  return tagged;
}

/** Types a module's `serve` export. */
export function defineServe(config: ServeConfig): ServeConfig {
  return config;
}
