import { parseDuration, type Duration } from "../core/duration.js";
import type { Row } from "../core/schema.js";
import { toEpochMs } from "../core/time.js";
import type { AnyTable } from "../dsl/table.js";
import { DefinitionError, TimestampError } from "../errors.js";
import type { FeatureStatus } from "../stores/online/onlineStore.js";
import type { TableInfo } from "./catalog.js";
import { toRowSource, type RowInput } from "./inputs.js";

/** A feature of a training set: "table:feature", "table:*" (every feature), a table object, or one with its column name. */
export type FeatureSelection = string | AnyTable | { readonly feature: string; readonly as: string };

/** A label: a feature read as of the row's time plus a lookahead, or a column of the entity rows. */
export type LabelSpec = { readonly feature: string; readonly lookahead: Duration; readonly as?: string } | { readonly column: string; readonly as?: string };

export interface TrainingSetSpec {
  /** Entity rows (key fields and a timestamp): an array, an iterable, or a source such as csvSource/parquetSource. */
  readonly entities: RowInput;
  /** The entity rows' time field (default "ts"). */
  readonly timestampField?: string;
  readonly features: readonly FeatureSelection[];
  /**
   * Max age per feature reference ("table:feature") or per table ("table"):
   * a value whose key's latest event is older than this at the row's time
   * reads as null (status OUTSIDE_MAX_AGE).
   */
  readonly maxAge?: Readonly<Record<string, Duration>>;
  readonly labels?: readonly LabelSpec[];
  /** Adds a "<column>__status" column per feature: PRESENT, NOT_FOUND, NULL_VALUE or OUTSIDE_MAX_AGE. */
  readonly statuses?: boolean;
}

/** What a training set needs of the store (FeatureStore implements it). */
export interface PointInTimeReader {
  describe(table: string): TableInfo;
  getHistorical(table: string, entityRows: readonly Row[], options?: { timestampField?: string }): Promise<Row[]>;
  pointInTimeEventTimes(table: string, entityRows: readonly Row[], options?: { timestampField?: string }): Promise<Array<number | null>>;
}

interface Column {
  readonly table: string;
  readonly feature: string;
  readonly name: string;
}

/** Resolves the selections into columns, checking tables, features and name clashes at once. */
function columnsOf(store: PointInTimeReader, selections: readonly FeatureSelection[]): Column[] {
  const out: Column[] = [];
  const add = (table: string, feature: string, name: string, field: string): void => {
    const info = store.describe(table);
    const features = feature === "*" ? info.features.map((f) => f.name) : [feature];
    for (const f of features) {
      if (!info.features.some((c) => c.name === f)) {
        throw new DefinitionError(`training set: table "${table}" has no feature "${f}"; it has ${info.features.map((c) => c.name).join(", ")}`, { field });
      }
      out.push({ table, feature: f, name: feature === "*" ? f : name });
    }
  };
  selections.forEach((s, i) => {
    const field = `features.${i}`;
    if (typeof s === "string" || (typeof s === "object" && "feature" in s)) {
      const ref = typeof s === "string" ? s : s.feature;
      const colon = ref.indexOf(":");
      if (colon <= 0 || colon === ref.length - 1) throw new DefinitionError(`training set: feature ${JSON.stringify(ref)} must be "table:feature" or "table:*"`, { field });
      const feature = ref.slice(colon + 1);
      add(ref.slice(0, colon), feature, typeof s === "string" ? feature : s.as, field);
    } else {
      add(s.name, "*", "", field);
    }
  });
  const seen = new Map<string, Column>();
  for (const c of out) {
    const other = seen.get(c.name);
    if (other !== undefined) {
      throw new DefinitionError(`training set: column "${c.name}" comes from both ${other.table}:${other.feature} and ${c.table}:${c.feature}; name one with { feature, as }`, { field: "features" });
    }
    seen.set(c.name, c);
  }
  return out;
}

async function readEntities(input: RowInput, field: string): Promise<Row[]> {
  const rows: Row[] = [];
  let i = 0;
  for await (const batch of toRowSource(input).batches()) {
    for (const raw of batch) {
      if (typeof raw !== "object" || raw === null) throw new TimestampError(`entity row ${i} is not an object`, { row: i });
      const r = raw as Row;
      const ms = toEpochMs(r[field]);
      if (ms === undefined) throw new TimestampError(`entity row ${i} has no readable "${field}" timestamp (got ${JSON.stringify(r[field] ?? null)})`, { row: i, field });
      rows.push({ ...r, [field]: ms });
      i++;
    }
  }
  return rows;
}

function statusOf(value: unknown, time: number | null, at: number, maxAge: number | undefined): FeatureStatus {
  if (time === null) return "NOT_FOUND";
  if (maxAge !== undefined && !Number.isNaN(time) && at - time > maxAge) return "OUTSIDE_MAX_AGE";
  return value === null || value === undefined ? "NULL_VALUE" : "PRESENT";
}

/**
 * A point-in-time training set (Featurizer's feature-label sets): for each
 * entity row, its fields, every selected feature as of the row's timestamp
 * (events at or before it, never after), and the labels (a feature as of
 * the timestamp plus its lookahead, or an entity column). Rows keep the
 * entities' order, duplicates included.
 */
export async function buildTrainingSet(store: PointInTimeReader, spec: TrainingSetSpec): Promise<Row[]> {
  const field = spec.timestampField ?? "ts";
  const columns = columnsOf(store, spec.features);
  const maxAges = new Map<string, number>();
  for (const [ref, d] of Object.entries(spec.maxAge ?? {})) {
    const table = ref.includes(":") ? ref.slice(0, ref.indexOf(":")) : ref;
    store.describe(table);
    maxAges.set(ref, parseDuration(d));
  }
  const labels = (spec.labels ?? []).map((l, i) => {
    if ("column" in l) return { kind: "column" as const, column: l.column, name: l.as ?? l.column };
    const [table, feature] = [l.feature.slice(0, l.feature.indexOf(":")), l.feature.slice(l.feature.indexOf(":") + 1)];
    if (!l.feature.includes(":") || !store.describe(table).features.some((f) => f.name === feature)) {
      throw new DefinitionError(`training set: label ${JSON.stringify(l.feature)} must name a table's feature ("table:feature")`, { field: `labels.${i}` });
    }
    return { kind: "feature" as const, table, feature, lookahead: parseDuration(l.lookahead), name: l.as ?? `${feature}_label` };
  });
  const entities = await readEntities(spec.entities, field);
  const out: Row[] = entities.map((e) => ({ ...e }));

  const tables = [...new Set(columns.map((c) => c.table))];
  for (const table of tables) {
    const [values, times] = await Promise.all([store.getHistorical(table, entities, { timestampField: field }), store.pointInTimeEventTimes(table, entities, { timestampField: field })]);
    for (const c of columns.filter((x) => x.table === table)) {
      const maxAge = maxAges.get(`${table}:${c.feature}`) ?? maxAges.get(table);
      for (let i = 0; i < entities.length; i++) {
        const v = (values[i] as Row)[c.feature] ?? null;
        const status = statusOf(v, times[i] ?? null, (entities[i] as Row)[field] as number, maxAge);
        const row = out[i] as Row;
        // A key with no event yet reads like an empty window (count 0); only an expired value is withheld.
        row[c.name] = status === "OUTSIDE_MAX_AGE" ? null : v;
        if (spec.statuses === true) row[`${c.name}__status`] = status;
      }
    }
  }
  for (const l of labels) {
    if (l.kind === "column") {
      entities.forEach((e, i) => {
        if (!(l.column in e)) throw new DefinitionError(`training set: label column "${l.column}" is missing in entity row ${i}`, { row: i, field: l.column });
        (out[i] as Row)[l.name] = e[l.column];
      });
      continue;
    }
    const ahead = entities.map((e) => ({ ...e, [field]: (e[field] as number) + l.lookahead }));
    const values = await store.getHistorical(l.table, ahead, { timestampField: field });
    values.forEach((v, i) => ((out[i] as Row)[l.name] = v[l.feature] ?? null));
  }
  return out;
}
