import type { IngestReport } from "../featureStore/featureStore.js";
import { FeatureStore } from "../featureStore/featureStore.js";
import { DefinitionError } from "../errors.js";
import { materializeInputs, type ServeConfig } from "../serving/serveConfig.js";
import { loadDefinitions } from "./loadDefinitions.js";
import { PhaseProgress } from "./progress.js";

export interface BackfillOptions {
  readonly module: string;
  readonly dir: string;
  /** A tag of the module's serve.sources; default: serve.materialize. */
  readonly tag?: string;
  /** Rows between commits (default 250,000): a killed backfill resumes from the last one when run again. */
  readonly checkpointEvery?: number;
  readonly log?: (line: string) => void;
}

export interface BackfillResult {
  readonly reports: Record<string, IngestReport>;
  /** Datasets left alone because they already hold history. */
  readonly skipped: readonly string[];
  readonly seconds: number;
}

/**
 * `freshet backfill`: replays the module's offline inputs (a source tag, or
 * serve.materialize) into the store in the data directory, in event-time
 * order through the same runtime as online, with a progress bar (events/s,
 * ETA) on a terminal. It commits every `checkpointEvery` rows, so a killed
 * backfill run again resumes from its last commit. Datasets that already hold
 * history (and no interrupted backfill) are skipped: their rows would all be late.
 */
export async function runBackfill(o: BackfillOptions): Promise<BackfillResult> {
  const log = o.log ?? (() => {});
  const started = performance.now();
  const { definitions, config } = await loadDefinitions(o.module);
  const inputs = materializeInputs(o.tag === undefined ? config : ({ ...config, materialize: o.tag } satisfies ServeConfig));
  if (Object.keys(inputs).length === 0) throw new DefinitionError(`${o.module} has nothing to backfill: give its serve export sources and a tag (--tag), or materialize`, { field: "materialize" });
  const store = await FeatureStore.open({ dir: o.dir, clock: "event" });
  try {
    await store.apply(definitions);
    const stats = store.stats().datasets;
    const pending = store.backfillProgress();
    const reports: Record<string, IngestReport> = {};
    const skipped: string[] = [];
    for (const [name, input] of Object.entries(inputs)) {
      const held = stats[name]?.accepted ?? 0;
      const resume = pending[name];
      if (resume !== undefined) log(`${name}: resuming an interrupted backfill after ${resume.rows.toLocaleString("en-US")} rows`);
      else if (held > 0) {
        log(`${name}: already holds ${held.toLocaleString("en-US")} events; skipped`);
        skipped.push(name);
        continue;
      }
      let bar: PhaseProgress | undefined;
      let done = 0;
      const r = await store.materializeOffline(
        { [name]: input },
        {
          checkpointEvery: o.checkpointEvery ?? 250_000,
          onProgress: (p) => {
            if (p.phase !== "replay") return;
            bar ??= new PhaseProgress(`backfill ${name}`, p.total ?? 0);
            bar.update((done = p.rows));
          },
        },
      );
      const secs = bar?.stop(done) ?? 0;
      const report = r[name] as IngestReport;
      reports[name] = report;
      log(`${name}: ${report.accepted.toLocaleString("en-US")} accepted, ${report.late} late, ${report.invalid} invalid${secs > 0 ? ` (${Math.round(report.accepted / secs).toLocaleString("en-US")} events/s)` : ""}`);
    }
    return { reports, skipped, seconds: (performance.now() - started) / 1000 };
  } finally {
    await store.close();
  }
}
