import { wallClock, type Clock } from "../core/clock.js";
import { parseDuration } from "../core/duration.js";
import type { Row } from "../core/schema.js";
import { toEpochMs } from "../core/time.js";
import { ConflictError, RequestError, TimestampError, UnknownFeatureError, UnknownTableError } from "../errors.js";
import type { FeatureStore, IngestReport } from "../featureStore/featureStore.js";
import type { TableInfo } from "../featureStore/catalog.js";
import type { TableMeta } from "../dsl/table.js";
import type { FeatureRecord, FeatureSpec, FeatureStats, Registry, TableRecord } from "../registry/registry.js";
import type { FeatureStatus, FeatureValue, OnlineStore } from "../stores/online/onlineStore.js";
import { checkFeatureValue } from "./featureValues.js";
import { namespaceOf, RegisteredFeatures, ttlsOf } from "./registeredFeatures.js";
import { DEFAULT_BATCH } from "../sources/rowSource.js";
import type { ReadLog } from "./readLog.js";

export interface FeatureServiceOptions {
  readonly store: FeatureStore;
  readonly online: OnlineStore;
  readonly registry: Registry;
  /** Clock for TTLs and write times of registered features (default: wall clock). */
  readonly clock?: Clock;
  /** Logs a sample of computed-table reads for the skew check. */
  readonly readLog?: ReadLog;
}

/** One column of a Feast-style response. */
export interface FeatureColumnResult {
  readonly name: string;
  readonly values: unknown[];
  readonly statuses: FeatureStatus[];
  /** Event time (ms) of each value; null when unknown. */
  readonly eventTimes: Array<number | null>;
}

/** A parsed "view:feature" reference. */
interface FeatureRef {
  readonly view: string;
  readonly feature: string;
  readonly index: number;
}

function parseRef(ref: string, index: number): FeatureRef {
  const colon = ref.indexOf(":");
  if (colon <= 0 || colon === ref.length - 1) {
    throw new RequestError(`feature reference ${JSON.stringify(ref)} must be "view:feature" (a table or feature group, a colon, a feature)`, { field: `features.${index}` });
  }
  return { view: ref.slice(0, colon), feature: ref.slice(colon + 1), index };
}

function readAt(at: string | number | undefined): number | undefined {
  if (at === undefined) return undefined;
  const ms = toEpochMs(typeof at === "string" && /^-?\d+$/.test(at) ? Number(at) : at);
  if (ms === undefined) throw new TimestampError(`"at" is not a readable timestamp: ${JSON.stringify(at)}; use ISO 8601 or epoch milliseconds`, { field: "at" });
  return ms;
}

/**
 * What the HTTP routes do, without HTTP: reads of computed tables (in
 * process, as of the store clock) and of registered features (from the
 * online store, with TTLs), pushes, ingests and registrations. Every input
 * is checked before anything is written, so a rejected request changes nothing.
 */
export class FeatureService {
  private readonly infos = new Map<string, TableInfo>();
  private readonly ttls = new Map<string, number>();
  /** Told of every accepted push and ingest (rows per dataset or view), for metrics. */
  onIngest: (dataset: string, rows: number) => void = () => {};

  private constructor(
    readonly store: FeatureStore,
    readonly online: OnlineStore,
    readonly registry: Registry,
    readonly features: RegisteredFeatures,
    private readonly clock: Clock,
    private readonly readLog: ReadLog | undefined,
  ) {}

  /**
   * Loads the registered features and records the store's tables and
   * datasets in the registry; a table whose key types changed without a
   * new version is refused here (ConflictError), before serving starts.
   */
  static async create(o: FeatureServiceOptions): Promise<FeatureService> {
    const service = new FeatureService(o.store, o.online, o.registry, await RegisteredFeatures.load(o.registry), o.clock ?? wallClock, o.readLog);
    const { datasets, tables, onDemand } = o.store.list();
    for (const name of datasets) {
      const d = o.store.describeDataset(name);
      const keys = d.fields.filter((f) => d.keys.includes(f.name));
      await o.registry.registerTable({ name, kind: "dataset", keys, fields: d.fields.filter((f) => !d.keys.includes(f.name)), ...metaSpec(d.meta) });
    }
    for (const name of [...tables, ...onDemand]) {
      const info = service.table(name);
      const m = info.meta;
      await o.registry.registerTable({
        name,
        kind: info.kind === "onDemand" ? "onDemand" : "table",
        keys: info.keys,
        fields: info.features,
        ...metaSpec(m),
        ...(m.ttl === undefined ? {} : { ttlSeconds: Math.ceil(parseDuration(m.ttl) / 1000) }),
      });
      if (m.ttl !== undefined) service.ttls.set(name, parseDuration(m.ttl));
    }
    return service;
  }


  /** Keys and features of a computed table (cached: definitions are applied before serving). */
  table(name: string): TableInfo {
    let info = this.infos.get(name);
    if (info === undefined) {
      info = this.store.describe(name);
      this.infos.set(name, info);
    }
    return info;
  }

  /** Whether a name is a computed table or on-demand feature: create() described every one, so the cache knows them all. */
  private isTable(name: string): boolean {
    return this.infos.has(name);
  }

  async tables(): Promise<{ tables: Array<TableInfo & { registry: TableRecord | undefined }>; datasets: TableRecord[]; views: Array<{ name: string; entity: string; features: FeatureRecord[] }> }> {
    const { tables, onDemand } = this.store.list();
    const records = await this.registry.listTables();
    const byName = new Map(records.map((r) => [r.name, r]));
    return {
      tables: [...tables, ...onDemand].map((n) => ({ ...this.table(n), registry: byName.get(n) })),
      datasets: records.filter((r) => r.kind === "dataset"),
      views: this.features.views().map((v) => {
        const fs = this.features.all().filter((f) => f.view === v);
        return { name: v, entity: fs[0]?.entity ?? v, features: fs };
      }),
    };
  }

  async describe(name: string): Promise<Record<string, unknown>> {
    if (this.isTable(name)) {
      const info = this.table(name);
      return { ...info, registry: (await this.registry.getTable(name)) ?? null, plan: info.kind === "onDemand" ? null : this.store.explain(name) };
    }
    if (this.features.hasView(name)) {
      const fs = this.features.all().filter((f) => f.view === name);
      return { name, kind: "featureView", entity: fs[0]?.entity ?? name, features: fs };
    }
    const known = [...this.infos.keys(), ...this.features.views()];
    throw new UnknownTableError(name, known);
  }

  /**
   * The key row of a single-key table from a path segment: numeric key
   * fields parse the text as a number (a bad one is a 400 naming the key).
   */
  keyRow(table: string, key: string): Row {
    const info = this.table(table);
    if (info.keys.length !== 1) {
      throw new RequestError(`table "${table}" has the key fields [${info.keys.map((k) => k.name).join(", ")}]; read it with POST /v1/online/${table} and { "keys": [{ ... }] }`, { field: "key" });
    }
    const k = info.keys[0] as { name: string; type: string };
    return { [k.name]: coerceKey(k.type, key, k.name) };
  }

  /** Rows of a computed table for the given key rows, as of `at` or the store clock. */
  async read(table: string, keys: readonly Row[], at?: string | number): Promise<Row[]> {
    const info = this.table(table);
    const rows = keys.map((k, i) => {
      const r: Row = {};
      for (const c of [...info.keys, ...info.request]) {
        const v = k[c.name];
        if (v === undefined) throw new RequestError(`key row ${i} of table "${table}" has no "${c.name}"`, { field: `keys.${i}.${c.name}` });
        r[c.name] = checkKey(c.type, v, `keys.${i}.${c.name}`);
      }
      return r;
    });
    const ms = readAt(at);
    const out = await this.readLogged(table, info, rows, ms);
    const ttl = this.ttls.get(table);
    if (ttl === undefined || info.kind === "onDemand") return out;
    // A key whose latest event is older than the table's TTL serves no values (null), as on the Feast route.
    const now = ms ?? (info.kind === "table" ? (this.store.now(table)?.getTime() ?? Number.NEGATIVE_INFINITY) : this.clock.now());
    const times = await this.store.latestEventTimes(table, rows);
    return out.map((r, i) => {
      const time = times[i];
      if (time === null || time === undefined || Number.isNaN(time) || now - time <= ttl) return r;
      const expired: Row = { ...r };
      for (const f of info.features) expired[f.name] = null;
      return expired;
    });
  }

  /**
   * A computed table's online read, logged for the skew check when a read
   * log is on: the read time is then fixed first, so the log holds exactly
   * the time the values were read as of.
   */
  private async readLogged(table: string, info: TableInfo, rows: readonly Row[], at: number | undefined): Promise<Row[]> {
    const log = this.readLog;
    if (log === undefined || info.kind !== "table") return this.store.getOnline(table, rows, at === undefined ? {} : { at });
    const time = at ?? this.store.now(table)?.getTime();
    if (time === undefined) return this.store.getOnline(table, rows);
    const out = await this.store.getOnline(table, rows, { at: time });
    log.record(table, info.keys.map((k) => k.name), info.features.map((f) => f.name), time, rows, out);
    return out;
  }

  async bulk(table: string): Promise<Row[]> {
    this.table(table);
    return this.store.bulkQuery(table);
  }

  /** Pushes rows to a dataset: all of them or, when one is invalid, none (with onError "throw"). */
  async push(dataset: string, rows: readonly unknown[], onError: "throw" | "dead-letter" = "throw"): Promise<IngestReport> {
    this.store.describeDataset(dataset);
    // One batch is parsed whole before any row reaches the tables: all or nothing.
    if (rows.length > DEFAULT_BATCH) throw new RequestError(`at most ${DEFAULT_BATCH} rows per push, got ${rows.length}; split the push`, { field: "rows" });
    const report = await this.store.push(dataset, rows, { onError });
    this.onIngest(dataset, report.read);
    return report;
  }

  /**
   * Feast's get-online-features: one column per entity key and per
   * reference, in request order, with a status and event time per value.
   */
  async getOnlineFeatures(references: readonly string[], entities: Readonly<Record<string, readonly unknown[]>>, fullFeatureNames: boolean): Promise<FeatureColumnResult[]> {
    const entityNames = Object.keys(entities);
    if (entityNames.length === 0) throw new RequestError("entities must name at least one key column", { field: "entities" });
    const n = (entities[entityNames[0] as string] as readonly unknown[]).length;
    for (const e of entityNames) {
      if ((entities[e] as readonly unknown[]).length !== n) throw new RequestError(`entity column "${e}" has ${(entities[e] as readonly unknown[]).length} values, "${entityNames[0]}" has ${n}: every column needs one value per entity row`, { field: `entities.${e}` });
    }
    const refs = references.map(parseRef);
    const views = new Map<string, FeatureRef[]>();
    for (const r of refs) {
      let list = views.get(r.view);
      if (list === undefined) views.set(r.view, (list = []));
      list.push(r);
    }
    const columns = new Array<FeatureColumnResult>(refs.length);
    const now = this.clock.now();
    await Promise.all(
      [...views].map(async ([view, list]) => {
        const cols = this.isTable(view) ? await this.readTableColumns(view, list, entities, n) : await this.readRegisteredColumns(view, list, entities, n, now);
        list.forEach((r, i) => (columns[r.index] = { ...(cols[i] as FeatureColumnResult), name: fullFeatureNames ? `${r.view}__${r.feature}` : r.feature }));
      }),
    );
    const keyColumns: FeatureColumnResult[] = entityNames.map((e) => ({
      name: e,
      values: [...(entities[e] as readonly unknown[])],
      statuses: new Array<FeatureStatus>(n).fill("PRESENT"),
      eventTimes: new Array<number | null>(n).fill(null),
    }));
    return [...keyColumns, ...columns];
  }

  private async readTableColumns(view: string, refs: readonly FeatureRef[], entities: Readonly<Record<string, readonly unknown[]>>, n: number): Promise<FeatureColumnResult[]> {
    const info = this.table(view);
    for (const r of refs) if (!info.features.some((f) => f.name === r.feature)) throw new UnknownFeatureError(`${view}:${r.feature}`, { field: `features.${r.index}` });
    const needed = [...info.keys, ...info.request];
    for (const k of needed) if (entities[k.name] === undefined) throw new RequestError(`table "${view}" is keyed by "${k.name}": add it to entities`, { field: `entities.${k.name}` });
    const keyRows: Row[] = new Array<Row>(n);
    for (let i = 0; i < n; i++) {
      const r: Row = {};
      for (const k of needed) r[k.name] = checkKey(k.type, (entities[k.name] as readonly unknown[])[i], `entities.${k.name}.${i}`);
      keyRows[i] = r;
    }
    const [rows, times] = await Promise.all([this.readLogged(view, info, keyRows, undefined), info.kind === "onDemand" ? keyRows.map(() => Number.NaN) : this.store.latestEventTimes(view, keyRows)]);
    const ttl = this.ttls.get(view);
    // TTLs count on the clock the table's reads use (its watermark with clock "event").
    const now = info.kind === "table" ? (this.store.now(view)?.getTime() ?? Number.NEGATIVE_INFINITY) : this.clock.now();
    return refs.map((r) => {
      const values = new Array<unknown>(n);
      const statuses = new Array<FeatureStatus>(n);
      const eventTimes = new Array<number | null>(n);
      for (let i = 0; i < n; i++) {
        const time = times[i] ?? null;
        const v = (rows[i] as Row)[r.feature] ?? null;
        eventTimes[i] = time === null || Number.isNaN(time) ? null : time;
        if (time === null) {
          values[i] = null;
          statuses[i] = "NOT_FOUND";
        } else if (ttl !== undefined && !Number.isNaN(time) && now - time > ttl) {
          values[i] = null;
          statuses[i] = "OUTSIDE_MAX_AGE";
        } else {
          values[i] = v;
          statuses[i] = v === null ? "NULL_VALUE" : "PRESENT";
        }
      }
      return { name: r.feature, values, statuses, eventTimes };
    });
  }

  private async readRegisteredColumns(view: string, refs: readonly FeatureRef[], entities: Readonly<Record<string, readonly unknown[]>>, n: number, now: number): Promise<FeatureColumnResult[]> {
    if (!this.features.hasView(view)) throw new UnknownTableError(view, [...this.infos.keys(), ...this.features.views()]);
    const records = refs.map((r) => {
      const f = this.features.inView(view, r.feature);
      if (f === undefined) throw new UnknownFeatureError(`${view}:${r.feature}`, { field: `features.${r.index}` });
      return f;
    });
    const first = records[0] as FeatureRecord;
    const names = Object.keys(entities);
    const column = entities[first.entity] ?? (names.length === 1 ? entities[names[0] as string] : undefined);
    if (column === undefined) throw new RequestError(`feature view "${view}" is keyed by entity "${first.entity}": add it to entities`, { field: `entities.${first.entity}` });
    const keys = column.map((v, i) => entityId(v, `entities.${first.entity}.${i}`));
    const reads = await this.online.read(namespaceOf(first), keys, records.map((f) => f.name), { now, ttlMs: ttlsOf(records) });
    return refs.map((r, j) => ({
      name: r.feature,
      values: reads.map((row) => (row[j] as { value: FeatureValue }).value),
      statuses: reads.map((row) => (row[j] as { status: FeatureStatus }).status),
      eventTimes: reads.map((row) => (row[j] as { eventTime: number | null }).eventTime),
    }));
  }

  /** Deletes a table's registry record; a table the running definitions apply cannot be deleted. */
  async deleteTableRecord(name: string): Promise<TableRecord> {
    if (this.isTable(name) || this.store.list().datasets.includes(name)) {
      throw new ConflictError(`table "${name}" is applied by the definitions this server runs; remove it from the definitions module and restart first`, { field: "table" });
    }
    const removed = await this.registry.deleteTable(name);
    if (removed === undefined) throw new UnknownTableError(name, (await this.registry.listTables()).map((t) => t.name));
    return removed;
  }

  /** Registers a feature (409 on a duplicate) and its entity if new; the records cache follows. */
  async register(spec: FeatureSpec): Promise<FeatureRecord> {
    const old = this.features.get(spec.name);
    const record = await this.registry.registerFeature(spec);
    if (!(await this.registry.listEntities()).some((e) => e.name === spec.entity)) {
      await this.registry.registerEntity({ name: spec.entity, keyType: "string", description: `ids of "${spec.entity}" (registered with feature "${spec.name}")` });
    }
    // A new version whose type or entity changed must not serve the old values.
    if (old !== undefined && (old.dataType !== record.dataType || old.entity !== record.entity)) await this.online.deleteFeature(namespaceOf(old), old.name);
    this.features.put(record);
    return record;
  }

  /** Deletes a feature, its statistics and its served values. */
  async deleteFeature(id: number): Promise<FeatureRecord> {
    const f = await this.registry.getFeature(id);
    if (f === undefined) throw new UnknownFeatureError(`#${id}`, { field: "feature_id" });
    // Values first: a feature whose values remain must stay registered to be deletable again.
    await this.online.deleteFeature(namespaceOf(f), f.name);
    await this.registry.deleteFeature(id);
    this.features.remove(f);
    return f;
  }

  /**
   * Writes registered features' values for one entity: every value is
   * checked first, then all are written in one atomic write (the features
   * of one ingest share their entity type, hence their namespace).
   */
  async ingest(entityIdValue: string, values: ReadonlyArray<{ readonly feature_name: string; readonly value: unknown }>, eventTime?: string | number): Promise<string[]> {
    const checked = values.map((v, i) => {
      const f = this.features.get(v.feature_name);
      if (f === undefined) throw new UnknownFeatureError(v.feature_name, { field: `features.${i}.feature_name` });
      return { f, value: checkFeatureValue(f, v.value, `features.${i}.value`), field: `features.${i}.feature_name` };
    });
    await this.writeChecked([{ key: entityIdValue, values: checked, eventTime: readAt(eventTime) }]);
    return checked.map((c) => c.f.name);
  }

  /**
   * Feast push to a view of registered features: each row holds the entity
   * column (named like the entity), feature columns and optionally
   * "event_timestamp". All rows are checked, then written in one atomic write.
   */
  async writeView(view: string, rows: readonly Row[]): Promise<{ read: number; accepted: number; late: number; invalid: number }> {
    const first = this.features.all().find((f) => f.view === view) as FeatureRecord;
    const entity = first.entity;
    const writes = rows.map((r, i) => {
      const key = entityId(r[entity], `df.${entity}.${i}`);
      const values = Object.entries(r)
        .filter(([k]) => k !== entity && k !== "event_timestamp")
        .map(([k, v]) => {
          const f = this.features.inView(view, k);
          if (f === undefined) throw new UnknownFeatureError(`${view}:${k}`, { field: `df.${k}` });
          return { f, value: checkFeatureValue(f, v, `df.${k}.${i}`), field: `df.${k}` };
        });
      return { key, values, eventTime: r.event_timestamp === undefined ? undefined : readAt(r.event_timestamp as string | number) };
    });
    await this.writeChecked(writes);
    return { read: rows.length, accepted: rows.length, late: 0, invalid: 0 };
  }

  private async writeChecked(
    writes: ReadonlyArray<{ key: string; values: ReadonlyArray<{ f: FeatureRecord; value: FeatureValue; field: string }>; eventTime: number | undefined }>,
  ): Promise<void> {
    const all = writes.flatMap((w) => w.values);
    const head = all[0];
    if (head === undefined) return;
    const entity = head.f.entity;
    for (const c of all) {
      if (c.f.entity !== entity) throw new RequestError(`one write holds one entity type: "${c.f.name}" belongs to entity "${c.f.entity}", "${head.f.name}" to "${entity}"`, { field: c.field });
    }
    // The store may drop an entry once no feature of the entity type can still be served.
    const siblings = this.features.all().filter((f) => f.entity === entity);
    const expireAfterMs = siblings.every((f) => f.ttlSeconds !== undefined) ? Math.max(...siblings.map((f) => (f.ttlSeconds as number) * 1000)) : undefined;
    await this.online.write(
      namespaceOf(head.f),
      writes.map((w) => ({ key: w.key, features: Object.fromEntries(w.values.map((c) => [c.f.name, c.value])), ...(w.eventTime === undefined ? {} : { eventTime: w.eventTime }) })),
      { now: this.clock.now(), ...(expireAfterMs === undefined ? {} : { expireAfterMs }) },
    );
    this.onIngest(head.f.view, writes.length);
    await this.recordStats(all.map((c) => ({ ref: `${c.f.view}:${c.f.name}`, value: c.value })));
  }

  private async recordStats(values: ReadonlyArray<{ ref: string; value: unknown }>): Promise<void> {
    const byRef = new Map<string, unknown[]>();
    for (const v of values) {
      let list = byRef.get(v.ref);
      if (list === undefined) byRef.set(v.ref, (list = []));
      list.push(v.value);
    }
    for (const [ref, vs] of byRef) await this.registry.recordValues(ref, vs);
  }

  /** Values of registered features for many entities: one online-store read per entity type. */
  async readEntities(entityIds: readonly string[], featureNames: readonly string[]): Promise<Array<Record<string, FeatureValue>>> {
    const records = featureNames.map((name, i) => {
      const f = this.features.get(name);
      if (f === undefined) throw new UnknownFeatureError(name, { field: `feature_names.${i}` });
      return f;
    });
    const out = entityIds.map(() => ({}) as Record<string, FeatureValue>);
    const byNamespace = new Map<string, FeatureRecord[]>();
    for (const f of records) {
      let list = byNamespace.get(namespaceOf(f));
      if (list === undefined) byNamespace.set(namespaceOf(f), (list = []));
      list.push(f);
    }
    const now = this.clock.now();
    await Promise.all(
      [...byNamespace].map(async ([ns, fs]) => {
        const reads = await this.online.read(ns, entityIds, fs.map((f) => f.name), { now, ttlMs: ttlsOf(fs) });
        reads.forEach((row, i) => fs.forEach((f, j) => ((out[i] as Record<string, FeatureValue>)[f.name] = (row[j] as { value: FeatureValue }).value)));
      }),
    );
    return out;
  }

  /** Every registered feature an entity id has a value for (in every entity type), or the named ones. */
  async readEntity(entityIdValue: string, featureNames: readonly string[] | undefined): Promise<Record<string, FeatureValue>> {
    if (featureNames !== undefined) return (await this.readEntities([entityIdValue], featureNames))[0] as Record<string, FeatureValue>;
    const names: string[] = [];
    for (const entity of this.features.entities()) {
      const f = this.features.all().find((x) => x.entity === entity) as FeatureRecord;
      for (const name of await this.online.featuresOf(namespaceOf(f), entityIdValue)) if (this.features.get(name)?.entity === entity) names.push(name);
    }
    const row = (await this.readEntities([entityIdValue], names))[0] as Record<string, FeatureValue>;
    // Like the seed, an entity's listing shows what it holds: expired values are left out.
    return Object.fromEntries(Object.entries(row).filter(([, v]) => v !== null));
  }

  /** A registered feature's record, or a computed table's feature, with its statistics. */
  async describeFeature(ref: string): Promise<Record<string, unknown>> {
    const f = this.features.get(ref);
    if (f !== undefined) return { ...f, stats: await this.stats(ref) };
    const colon = ref.indexOf(":");
    if (colon > 0 && this.isTable(ref.slice(0, colon))) {
      const info = this.table(ref.slice(0, colon));
      const feature = info.features.find((c) => c.name === ref.slice(colon + 1));
      if (feature !== undefined) return { table: info.name, ...feature, keys: info.keys, meta: info.meta, stats: await this.stats(ref) };
    }
    throw new UnknownFeatureError(ref, { field: "feature" });
  }

  /** Statistics of a feature: a registered feature's name, or "table:feature". */
  async stats(ref: string): Promise<FeatureStats> {
    const f = this.features.get(ref);
    const key = f === undefined ? ref : `${f.view}:${f.name}`;
    if (f === undefined) {
      const colon = ref.indexOf(":");
      const view = colon > 0 ? ref.slice(0, colon) : ref;
      if (!this.isTable(view) && !this.features.hasView(view)) throw new UnknownFeatureError(ref, { field: "feature" });
    }
    return (
      (await this.registry.stats(key)) ?? { count: 0, nulls: 0, min: null, max: null, mean: null, stddev: null, histogram: [] }
    );
  }

  /** Feeds the statistics of computed tables' features: called with the rows a push changed. */
  async recordTableRows(table: string, rows: readonly Row[]): Promise<void> {
    const info = this.table(table);
    await this.recordStats(info.features.flatMap((f) => rows.map((r) => ({ ref: `${table}:${f.name}`, value: r[f.name] ?? null }))));
  }
}

/** The registry fields of a table's or dataset's metadata. */
function metaSpec(m: TableMeta): { version: number; description?: string; owner?: string; tags?: Readonly<Record<string, string>> } {
  return {
    version: m.version ?? 1,
    ...(m.description === undefined ? {} : { description: m.description }),
    ...(m.owner === undefined ? {} : { owner: m.owner }),
    ...(m.tags === undefined ? {} : { tags: m.tags }),
  };
}

/**
 * A key value checked against its field type: numbers for numeric keys
 * (numeric text is read as a number), text for string keys, true/false for
 * bool keys. Without this, 42 and "42" would read one key's state yet echo
 * different values.
 */
function checkKey(type: string, v: unknown, field: string): unknown {
  if (typeof v === "string") return type === "string" || type === "value" ? v : coerceKey(type, v, field);
  const ok =
    type === "int" || type === "timestamp" ? typeof v === "number" && Number.isInteger(v)
    : type === "float" ? typeof v === "number" && Number.isFinite(v)
    : type === "bool" ? typeof v === "boolean"
    : type === "value" ? typeof v === "number" || typeof v === "boolean"
    : false;
  if (!ok) throw new RequestError(`key "${field}" must be ${type === "string" ? "text" : type === "int" ? "a whole number" : type === "float" ? "a number" : type === "bool" ? "true or false" : "text, a number or a boolean"}, got ${JSON.stringify(v)}`, { field });
  return v;
}

/** A key value from text, by its field type. */
function coerceKey(type: string, text: string, field: string): string | number | boolean {
  if (type === "int" || type === "float" || type === "timestamp") {
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n) || (type !== "float" && !Number.isInteger(n))) throw new RequestError(`key "${field}" must be ${type === "int" ? "a whole number" : "a number"}, got ${JSON.stringify(text)}`, { field });
    return n;
  }
  if (type === "bool") {
    if (text === "true" || text === "false") return text === "true";
    throw new RequestError(`key "${field}" must be true or false, got ${JSON.stringify(text)}`, { field });
  }
  return text;
}

/** An entity id of a registered feature: a string, or a number written as text. */
function entityId(v: unknown, field: string): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  throw new RequestError(`entity ids are strings or numbers, got ${JSON.stringify(v)}`, { field });
}
