import { extname } from "node:path";
import { toEpochMs } from "../core/time.js";
import type { Row } from "../core/schema.js";
import { DefinitionError, FreshetError } from "../errors.js";
import { FeatureStore } from "../featureStore/featureStore.js";
import { toRowSource } from "../featureStore/inputs.js";
import { csvSource } from "../sources/files/csvSource.js";
import { parquetSource } from "../sources/files/parquetSource.js";
import { writeRows } from "../stores/offline/rowFiles.js";
import { loadDefinitions } from "./loadDefinitions.js";
import { materializeInputs } from "../serving/serveConfig.js";
import { PhaseProgress } from "./progress.js";
import { loadTrainingSetConfig } from "./trainingSetConfig.js";

export interface TrainingSetCommandOptions {
  readonly config: string;
  readonly out: string;
  /** A data directory whose history is used (and kept); in memory when absent. */
  readonly dir?: string;
  readonly log?: (line: string) => void;
}

export interface TrainingSetResult {
  readonly rows: number;
  readonly columns: readonly string[];
  readonly seconds: number;
}

/**
 * `freshet training-set --config set.yaml --out data.parquet`: loads the
 * definitions the YAML names, replays their history (the module's
 * `serve.materialize` inputs) into a store, builds the point-in-time set for
 * the entity file and writes it.
 */
export async function runTrainingSet(o: TrainingSetCommandOptions): Promise<TrainingSetResult> {
  const log = o.log ?? (() => {});
  const started = performance.now();
  const cfg = await loadTrainingSetConfig(o.config);
  const ext = extname(cfg.entitiesPath).toLowerCase();
  if (ext !== ".csv" && ext !== ".parquet") throw new DefinitionError(`training-set config ${o.config}: entities.path must be a .csv or .parquet file, got ${cfg.entitiesPath}`, { field: "entities.path" });
  const { definitions, config } = await loadDefinitions(cfg.definitions);
  const store = await FeatureStore.open({ ...(o.dir === undefined ? {} : { dir: o.dir }), clock: "event" });
  try {
    await store.apply(definitions);
    const accepted = store.stats().datasets;
    const inputs = Object.fromEntries(Object.entries(materializeInputs(config)).filter(([name]) => (accepted[name]?.accepted ?? 0) === 0));
    for (const [name, input] of Object.entries(inputs)) {
      let bar: PhaseProgress | undefined;
      let done = 0;
      await store.materializeOffline(
        { [name]: input },
        {
          onProgress: (p) => {
            if (p.phase !== "replay") return;
            bar ??= new PhaseProgress(`replay ${name}`, p.total ?? 0);
            bar.update((done = p.rows));
          },
        },
      );
      bar?.stop(done);
    }
    const entities: Row[] = [];
    for await (const batch of toRowSource(ext === ".csv" ? csvSource(cfg.entitiesPath) : parquetSource(cfg.entitiesPath)).batches()) {
      for (const raw of batch) {
        const r = raw as Row;
        const ms = toEpochMs(r[cfg.timestamp]);
        if (ms !== undefined && ((cfg.start !== undefined && ms < cfg.start) || (cfg.end !== undefined && ms >= cfg.end))) continue;
        entities.push(r);
      }
    }
    log(`${entities.length.toLocaleString("en-US")} entity rows from ${cfg.entitiesPath}`);
    let rows: Row[];
    try {
      rows = await store.trainingSet({ entities, timestampField: cfg.timestamp, features: cfg.features, maxAge: cfg.maxAge, labels: cfg.labels, statuses: cfg.statuses });
    } catch (e) {
      if (e instanceof FreshetError) throw new DefinitionError(`training-set config ${o.config}: ${e.message}`, { file: o.config, ...(e.details.field === undefined ? {} : { field: e.details.field }) });
      throw e;
    }
    await writeRows(o.out, rows);
    const columns = rows[0] === undefined ? [] : Object.keys(rows[0]);
    const seconds = (performance.now() - started) / 1000;
    log(`wrote ${rows.length.toLocaleString("en-US")} rows × ${columns.length} columns to ${o.out} in ${seconds.toFixed(2)} s`);
    return { rows: rows.length, columns, seconds };
  } finally {
    await store.close();
  }
}
