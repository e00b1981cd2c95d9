import { join } from "node:path";
import { DefinitionError } from "../errors.js";
import { FeatureStore, type OpenOptions } from "../featureStore/featureStore.js";
import { FileRegistry, REGISTRY_FILE_NAME } from "../registry/fileRegistry.js";
import { PostgresRegistry } from "../registry/postgresRegistry.js";
import type { Registry } from "../registry/registry.js";
import { createServer, type FreshetServer, type ServerOptions } from "../serving/server.js";
import type { ServeConfig } from "../serving/serveConfig.js";
import { LmdbOnlineStore } from "../stores/online/lmdbOnlineStore.js";
import { MemoryOnlineStore } from "../stores/online/memoryOnlineStore.js";
import type { OnlineStore } from "../stores/online/onlineStore.js";
import { RedisOnlineStore } from "../stores/online/redisOnlineStore.js";
import { loadDefinitions } from "./loadDefinitions.js";
import { materializeInputs } from "../serving/serveConfig.js";
import { ReadLog } from "../serving/readLog.js";

/** The HTTP options passed through to createServer as they are. */
const HTTP_OPTIONS = ["tokens", "corsOrigins", "bodyLimit", "logLevel", "logRequests"] as const;
type HttpOptions = Pick<ServerOptions, (typeof HTTP_OPTIONS)[number]>;

export interface ServeOptions extends HttpOptions, StoreOptions {
  readonly port: number;
  readonly host: string;
  /** Overrides the module's `serve.online`. */
  readonly online?: string;
  /** Overrides the module's `serve.registry`. */
  readonly registry?: string;
  /** Fraction of keys whose computed-table reads are logged for `freshet skew` (0 to 1). */
  readonly logReads?: number;
  /** The read log file (default: read-log.jsonl in the data directory). */
  readonly readLogPath?: string;
}

export interface RunningServer {
  readonly url: string;
  readonly server: FreshetServer;
  readonly store: FeatureStore;
  /** The module's `serve` export. */
  readonly config: ServeConfig;
  /** Stops serving and closes the store, online store and registry (flushing what they hold). */
  close(): Promise<void>;
}

/** Opens the online store a spec names: "memory", "lmdb" (in the data directory) or a redis:// URL. */
export async function openOnline(spec: string, dir: string | undefined, config: ServeConfig): Promise<OnlineStore> {
  if (spec === "memory") return new MemoryOnlineStore();
  if (spec === "lmdb") {
    if (dir === undefined) throw new DefinitionError('the "lmdb" online store lives in the data directory: pass --dir', { field: "online" });
    return LmdbOnlineStore.open(join(dir, "features"));
  }
  if (/^rediss?:\/\//.test(spec)) return RedisOnlineStore.connect(spec, config.redisPrefix === undefined ? {} : { prefix: config.redisPrefix });
  throw new DefinitionError(`online store ${JSON.stringify(spec)}: use "memory", "lmdb" or a redis:// URL`, { field: "online" });
}

async function openRegistry(spec: string, dir: string | undefined): Promise<Registry> {
  if (spec === "file") return dir === undefined ? FileRegistry.inMemory() : FileRegistry.open(join(dir, REGISTRY_FILE_NAME));
  if (/^postgres(ql)?:\/\//.test(spec)) return PostgresRegistry.connect(spec);
  throw new DefinitionError(`registry ${JSON.stringify(spec)}: use "file" or a postgres:// URL`, { field: "registry" });
}

/** What opening a module's store takes: the module, the data directory and how it keeps state. */
export interface StoreOptions {
  /** Definitions module (.ts or .js); none: no datasets or tables. */
  readonly module?: string;
  /** Data directory: engine state, history (and the online store and registry of a server). */
  readonly dir?: string;
  /** How the data directory keeps online state (see OpenOptions.state); `freshet run` uses "checkpoints" or Redis. */
  readonly state?: OpenOptions["state"];
}

/**
 * Loads the definitions, opens the store (in the data directory, or in
 * memory) and replays the module's `materialize` inputs into datasets that
 * have no history yet.
 */
export async function openConfiguredStore(o: StoreOptions, log: (line: string) => void = () => {}): Promise<{ store: FeatureStore; config: ServeConfig }> {
  const loaded = o.module === undefined ? { definitions: [], config: {} as ServeConfig } : await loadDefinitions(o.module);
  const config = loaded.config;
  const store = await FeatureStore.open({ ...(o.dir === undefined ? {} : { dir: o.dir }), ...(o.state === undefined ? {} : { state: o.state }), clock: config.clock ?? "wall" });
  try {
    await store.apply(loaded.definitions);
    const stats = store.stats().datasets;
    const fresh = Object.fromEntries(Object.entries(materializeInputs(config)).filter(([name]) => (stats[name]?.accepted ?? 0) === 0));
    if (Object.keys(fresh).length > 0) {
      log(`replaying history into ${Object.keys(fresh).join(", ")}`);
      const reports = await store.materializeOffline(fresh);
      for (const [name, r] of Object.entries(reports)) log(`  ${name}: ${r.accepted} rows accepted, ${r.late} late, ${r.invalid} invalid`);
    }
    return { store, config };
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
}

/**
 * `freshet serve`: loads the definitions, opens the stores (embedded in the
 * data directory, in memory without one, or those the module or flags name),
 * replays the module's `materialize` inputs into datasets without history,
 * and serves.
 */
export async function startServer(o: ServeOptions, log: (line: string) => void = () => {}): Promise<RunningServer> {
  const { store, config } = await openConfiguredStore(o, log);
  const opened: Array<{ close(): Promise<void> }> = [store];
  try {
    const online = await openOnline(o.online ?? config.online ?? (o.dir === undefined ? "memory" : "lmdb"), o.dir, config);
    opened.push(online);
    const registry = await openRegistry(o.registry ?? config.registry ?? "file", o.dir);
    opened.push(registry);
    let readLog: ReadLog | undefined;
    if (o.logReads !== undefined) {
      const path = o.readLogPath ?? (o.dir === undefined ? undefined : join(o.dir, "read-log.jsonl"));
      if (path === undefined) throw new DefinitionError("--log-reads needs a file: pass --dir or --read-log", { field: "read-log" });
      readLog = new ReadLog(o.logReads, path);
    }
    const http: HttpOptions = Object.fromEntries(HTTP_OPTIONS.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
    const server = await createServer({ ...http, store, online, registry, ...(readLog === undefined ? {} : { readLog }) });
    const url = await server.listen(o.port, o.host);
    const list = store.list();
    log(`freshet serving ${list.tables.length} tables, ${list.datasets.length} datasets on ${url} (online store: ${online.kind}, registry: ${registry.kind}); docs at ${url}/docs`);
    let closing: Promise<void> | undefined;
    return {
      url,
      server,
      store,
      config,
      close() {
        closing ??= (async () => {
          await server.close();
          for (const c of opened.reverse()) await c.close();
        })();
        return closing;
      },
    };
  } catch (e) {
    for (const c of opened.reverse()) await c.close().catch(() => {});
    throw e;
  }
}
