import { DefinitionError } from "../errors.js";
import type { OnError, RowInput } from "../featureStore/inputs.js";
import { isStreamSource, type StreamSource } from "../sources/stream/streamSource.js";

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
   * offline and a stream live, e.g.
   * `{ offline: { flights: parquetSource(path) }, online: { flights: natsSource({...}) } }`.
   * Files and arrays are replayed (materialize, `freshet backfill`); stream
   * sources are consumed by `freshet run` (the "online" tag by default).
   */
  readonly sources?: Readonly<Record<string, Readonly<Record<string, RowInput | StreamSource>>>>;
  /**
   * History replayed at start into datasets that have none yet: inputs per
   * dataset (e.g. { flights: parquetSource(path) }), or the name of a tag in `sources`.
   */
  readonly materialize?: Readonly<Record<string, RowInput>> | string;
  /** The online job of `freshet run` (command-line flags win). */
  readonly job?: JobConfig;
}

export interface JobConfig {
  /** The tag of `sources` whose stream sources the job consumes (default "online"). */
  readonly tag?: string;
  /** Time between checkpoints in ms (default 1,000). */
  readonly checkpointEveryMs?: number;
  /** Rows per read from a source, at most (default 10,000). */
  readonly batchSize?: number;
  /** Rows that do not fit their dataset: fail the job (default) or dead-letter them. */
  readonly onError?: OnError;
  /**
   * Also write the tables' values to this online store at each checkpoint
   * ("lmdb" in the data directory, or a redis:// URL), in event-time order
   * (see docs/online-writes.md), for servers that read it.
   */
  readonly exportTo?: string;
  /** The tables to export (default: every table of the module). */
  readonly exportTables?: readonly string[];
}

/** The inputs `materialize` names: its own mapping, or the `sources` of its tag (which must not be streams). */
export function materializeInputs(config: ServeConfig): Readonly<Record<string, RowInput>> {
  const m = config.materialize;
  if (m === undefined) return {};
  if (typeof m !== "string") return m;
  const tagged = taggedSources(config, m, "materialize");
  const inputs: Record<string, RowInput> = {};
  for (const [dataset, input] of Object.entries(tagged)) {
    if (isStreamSource(input)) {
      throw new DefinitionError(`source tag "${m}" gives dataset "${dataset}" a ${input.kind} stream, which cannot be replayed as history; freshet run consumes streams`, { field: "materialize" });
    }
    inputs[dataset] = input;
  }
  return inputs;
}

/** The stream sources of a tag, for `freshet run`. */
export function streamSources(config: ServeConfig, tag: string): Readonly<Record<string, StreamSource>> {
  const out: Record<string, StreamSource> = {};
  for (const [dataset, input] of Object.entries(taggedSources(config, tag, "tag"))) {
    if (!isStreamSource(input)) throw new DefinitionError(`source tag "${tag}" gives dataset "${dataset}" ${describeInput(input)}, not a stream source; freshet run consumes streams (natsSource, kafkaSource, ...)`, { field: "tag" });
    out[dataset] = input;
  }
  return out;
}

function taggedSources(config: ServeConfig, tag: string, field: string): Readonly<Record<string, RowInput | StreamSource>> {
  const tagged = config.sources?.[tag];
  if (tagged === undefined) {
    throw new DefinitionError(`the source tag "${tag}" is not in serve.sources, which has ${Object.keys(config.sources ?? {}).map((t) => `"${t}"`).join(", ") || "no tags"}`, { field });
  }
  return tagged;
}

function describeInput(input: RowInput): string {
  if (Array.isArray(input)) return "an array";
  const kind = (input as { kind?: unknown }).kind;
  return typeof kind === "string" ? `a ${kind} source` : "an iterable";
}

/** Types a module's `serve` export. */
export function defineServe(config: ServeConfig): ServeConfig {
  return config;
}
