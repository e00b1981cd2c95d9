import { DefinitionError } from "../errors.js";
import type { FeatureStore } from "../featureStore/featureStore.js";
import { registerJobMetrics } from "../job/jobMetrics.js";
import { OnlineJob, type CheckpointReport } from "../job/onlineJob.js";
import { streamSources, type ServeConfig } from "../serving/serveConfig.js";
import { openConfiguredStore, openOnline, startServer, type RunningServer, type ServeOptions } from "./serve.js";
import type { OnlineStore } from "../stores/online/onlineStore.js";
import type { RedisCheckpointOptions } from "../stores/online/redisCheckpointMedium.js";

export interface RunOptions extends Omit<ServeOptions, "state"> {
  /**
   * Where the checkpoints (state + source positions) go: files under
   * dir/checkpoints (the default) or the same chain in Redis.
   */
  readonly state?: "checkpoints" | RedisCheckpointOptions;
  /** Serve over HTTP from the same process (default true). */
  readonly serve: boolean;
  /** The tag of the module's serve.sources to consume (default: serve.job.tag, else "online"). */
  readonly tag?: string;
  /** Overrides serve.job.checkpointEveryMs. */
  readonly checkpointEveryMs?: number;
  readonly onCheckpoint?: (c: CheckpointReport) => void;
}

export interface RunningJob {
  readonly job: OnlineJob;
  readonly store: FeatureStore;
  /** The server's URL, when serving. */
  readonly url: string | undefined;
  /** Milliseconds from the call to the job reading (and serving, when it serves). */
  readonly startMs: number;
  /** Stops cleanly: the batch in flight, a last checkpoint, acknowledgements; then the server and the store. */
  close(): Promise<void>;
}

/**
 * `freshet run`: opens the module's store with checkpointed state in the data
 * directory, serves it (unless told not to), and runs the online job over the
 * stream sources of a tag of the module's `serve.sources`.
 */
export async function startJob(o: RunOptions, log: (line: string) => void = () => {}): Promise<RunningJob> {
  const started = performance.now();
  let server: RunningServer | undefined;
  let store: FeatureStore;
  let config: ServeConfig;
  if (o.serve) {
    server = await startServer({ ...o, state: o.state ?? "checkpoints" }, log);
    ({ store, config } = server);
  } else ({ store, config } = await openConfiguredStore({ ...o, state: o.state ?? "checkpoints" }, log));
  let exportStore: OnlineStore | undefined;
  const closeAll = async (): Promise<void> => {
    if (server !== undefined) await server.close();
    else await store.close();
    await exportStore?.close();
  };
  try {
    if (o.dir === undefined) log("warning: no --dir: checkpoints are not kept, a restart starts every source from its beginning");
    log(`state: ${store.stats().state}`);
    const tag = o.tag ?? config.job?.tag ?? "online";
    const sources = streamSources(config, tag);
    if (Object.keys(sources).length === 0) throw new DefinitionError(`source tag "${tag}" has no stream sources to run`, { field: "tag" });
    const jc = config.job ?? {};
    if (jc.exportTo !== undefined) {
      if (jc.exportTo === "lmdb" && server !== undefined) throw new DefinitionError('job.exportTo "lmdb" is the served online store\'s directory: export to Redis, or run with --no-serve', { field: "exportTo" });
      exportStore = await openOnline(jc.exportTo, o.dir, config);
    }
    const exportTables = jc.exportTables ?? store.list().tables;
    const job = await OnlineJob.start(
      store,
      Object.entries(sources).map(([dataset, source]) => ({ dataset, source, ...(jc.onError === undefined ? {} : { onError: jc.onError }) })),
      {
        ...(o.checkpointEveryMs ?? jc.checkpointEveryMs) === undefined ? {} : { checkpointEveryMs: o.checkpointEveryMs ?? jc.checkpointEveryMs },
        ...(jc.batchSize === undefined ? {} : { batchSize: jc.batchSize }),
        ...(o.onCheckpoint === undefined ? {} : { onCheckpoint: o.onCheckpoint }),
        ...(exportStore === undefined ? {} : { exportTo: { store: exportStore, tables: exportTables } }),
      },
    );
    if (server !== undefined) registerJobMetrics(server.server.metrics.registry, job);
    const startMs = performance.now() - started;
    const positions = store.savedPositions();
    for (const [dataset, s] of Object.entries(sources)) {
      const at = positions[dataset];
      log(`reading ${dataset} from ${s.description}, ${at === undefined ? "from its start" : `after position ${JSON.stringify(at)}`}`);
    }
    if (exportStore !== undefined) log(`exporting ${exportTables.join(", ")} to the ${exportStore.kind} online store at each checkpoint`);
    log(`freshet job running (ready in ${startMs.toFixed(0)} ms)${server === undefined ? "" : ` and serving on ${server.url}`}`);
    let closing: Promise<void> | undefined;
    return {
      job,
      store,
      url: server?.url,
      startMs,
      close() {
        closing ??= (async () => {
          try {
            await job.stop();
          } finally {
            await closeAll();
          }
        })();
        return closing;
      },
    };
  } catch (e) {
    await closeAll().catch(() => {});
    throw e;
  }
}
