import { encodeKey } from "../core/keys.js";
import type { Row, Schema } from "../core/schema.js";
import type { Runtime } from "../engine/runtime.js";
import type { AnyOnDemand } from "../dsl/onDemand.js";
import { sourcesOf } from "./historical.js";
import { schemaAfter } from "../plan/validate.js";
import type { TableMeta } from "../dsl/table.js";

export interface ColumnInfo {
  readonly name: string;
  /** A field type ("string", "int", "float", "bool", "timestamp"), "number" for numeric features, or "value" (any JSON). */
  readonly type: string;
}

/** What a served table is: its keys and features, for the HTTP API, the registry and the docs. */
export interface TableInfo {
  readonly name: string;
  readonly kind: "table" | "operatorTable" | "onDemand";
  readonly keys: readonly ColumnInfo[];
  readonly features: readonly ColumnInfo[];
  /** Request-time fields an on-demand feature also needs. */
  readonly request: readonly ColumnInfo[];
  readonly sources: readonly string[];
  /** Version, description, owner, tags and TTL given with `.as(name, meta)`. */
  readonly meta: TableMeta;
}

export interface DatasetInfo {
  readonly name: string;
  readonly meta: TableMeta;
  readonly keys: readonly string[];
  readonly timestamp: string;
  readonly fields: readonly ColumnInfo[];
}

function columns(schema: Schema | undefined, names: readonly string[]): ColumnInfo[] {
  return names.map((name) => ({ name, type: schema?.[name]?.kind ?? "value" }));
}

function schemaColumns(schema: Schema): ColumnInfo[] {
  return Object.entries(schema).map(([name, f]) => ({ name, type: f.kind }));
}

/** Describes an applied table, operator table or on-demand feature; undefined when no such name. */
export function describeTable(runtime: Runtime, onDemand: ReadonlyMap<string, AnyOnDemand>, name: string, meta: TableMeta = {}): TableInfo | undefined {
  const t = runtime.tables.get(name);
  if (t !== undefined) {
    const root = t.def.root;
    return {
      name,
      kind: "table",
      keys: columns(schemaAfter(root.input), root.keys),
      features: t.operator.layout.features.map((f) => ({ name: f.name, type: f.out })),
      request: [],
      sources: sourcesOf(t).map((d) => d.name),
      meta,
    };
  }
  const ot = runtime.operatorTables.get(name);
  if (ot !== undefined) {
    const root = ot.def.root;
    return {
      name,
      kind: "operatorTable",
      keys: columns(schemaAfter(root.input), root.keys),
      features: schemaColumns(root.output).filter((c) => !root.keys.includes(c.name)),
      request: [],
      sources: [ot.source.def.name],
      meta,
    };
  }
  const f = onDemand.get(name);
  if (f !== undefined) {
    const keys = new Map<string, ColumnInfo>();
    for (const input of f.inputs) for (const k of describeTable(runtime, onDemand, input.name)?.keys ?? []) keys.set(k.name, k);
    return {
      name,
      kind: "onDemand",
      keys: [...keys.values()],
      features: schemaColumns(f.output),
      request: schemaColumns(f.request),
      sources: f.inputs.map((i) => i.name),
      meta,
    };
  }
  return undefined;
}

export function describeDataset(runtime: Runtime, name: string): DatasetInfo | undefined {
  const s = runtime.sources.get(name);
  if (s === undefined) return undefined;
  return { name, keys: s.def.keys, timestamp: s.def.timestamp, fields: schemaColumns(s.def.schema), meta: s.def.meta ?? {} };
}

/**
 * For each key row: the event time of the key's latest event, NaN when it
 * is unknown (state restored from a format that did not keep it, after its
 * events were compacted), or null when the table has never seen the key.
 */
export function latestEventTimes(runtime: Runtime, name: string, keys: readonly Row[]): Array<number | null> {
  const t = runtime.tables.get(name);
  if (t !== undefined) {
    const keyFields = t.def.root.keys;
    return keys.map((r) => {
      const st = t.operator.lookup(encodeKey(keyFields.map((k) => r[k])));
      return st === undefined ? null : st.latest;
    });
  }
  const ot = runtime.operatorTables.get(name);
  if (ot !== undefined) return ot.latestTimes(keys);
  return keys.map(() => Number.NaN);
}
