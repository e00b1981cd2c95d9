import { parseDuration, type Duration } from "../core/duration.js";
import { literalKey, setField } from "../core/objectLiteral.js";
import type { Row } from "../core/schema.js";
import { toEpochMs } from "../core/time.js";
import type { AnyTable } from "../dsl/table.js";
import { DefinitionError, TimestampError } from "../errors.js";
import type { FeatureStatus } from "../stores/online/onlineStore.js";
import type { TableInfo } from "./catalog.js";
import { toRowSource, type RowInput } from "./inputs.js";

// The point-in-time reads FeatureStore.getHistorical shares with training sets live in pointInTimeRead.ts.
export { keySlots, readOrder, readPointInTime } from "./pointInTimeRead.js";

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

/** getHistorical's options for reading in columns, as training sets do. */
export interface HistoricalColumnsOptions {
  /** The entity rows' time field (default "ts"). */
  readonly timestampField?: string;
  readonly columns: true;
  /** Also return each row's latest event time at or before its time (statuses and max ages need it). */
  readonly eventTimes?: boolean;
  /** The rows' times in epoch ms, when the caller has them already; the timestamp field is then not read. */
  readonly times?: Float64Array;
}

/** Point-in-time reads in columns: entry i of every column belongs to entity row i. */
export interface HistoricalColumns {
  /** Each feature's values. Number features hold NaN for null; NaN and null both read as null. */
  readonly features: ReadonlyMap<string, ArrayLike<unknown>>;
  /**
   * With `eventTimes`: the event time of the key's latest event at or before
   * the row's time; null: none yet; NaN: unknown (operator tables, on-demand features).
   */
  readonly eventTimes: ReadonlyArray<number | null> | undefined;
}

/** What a training set needs of the store (FeatureStore implements it). */
export interface PointInTimeReader {
  describe(table: string): TableInfo;
  getHistorical(table: string, entityRows: readonly Row[], options: HistoricalColumnsOptions): Promise<HistoricalColumns>;
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

/**
 * The entity rows as given (not copied: the output rows are built from them
 * once, at the end) and their times in epoch ms.
 */
async function readEntities(input: RowInput, field: string): Promise<{ rows: readonly Row[]; times: Float64Array }> {
  const timeOf = (raw: unknown, i: number): number => {
    if (typeof raw !== "object" || raw === null) throw new TimestampError(`entity row ${i} is not an object`, { row: i });
    const r = raw as Row;
    const ms = toEpochMs(r[field]);
    if (ms === undefined) throw new TimestampError(`entity row ${i} has no readable "${field}" timestamp (got ${JSON.stringify(r[field] ?? null)})`, { row: i, field });
    return ms;
  };
  if (Array.isArray(input)) {
    // An array is read in place: no batches (each one a copy of its part), no second array.
    const all: readonly unknown[] = input;
    const times = new Float64Array(all.length);
    for (let i = 0; i < all.length; i++) {
      const raw = all[i];
      // Epoch ms inline and stored on its own branch: merged with a call's
      // result, each number would be boxed (a heap number per row).
      const v = typeof raw === "object" && raw !== null ? (raw as Row)[field] : undefined;
      if (typeof v === "number" && Number.isFinite(v)) times[i] = Math.trunc(v);
      else times[i] = timeOf(raw, i);
    }
    return { rows: all as readonly Row[], times };
  }
  const rows: Row[] = [];
  let times = new Float64Array(1024);
  for await (const batch of toRowSource(input).batches()) {
    for (const raw of batch) {
      const i = rows.length;
      if (i === times.length) {
        const grown = new Float64Array(times.length * 2);
        grown.set(times);
        times = grown;
      }
      times[i] = timeOf(raw, i);
      rows.push(raw as Row);
    }
  }
  return { rows, times: times.subarray(0, rows.length) };
}

function statusOf(value: unknown, time: number | null, at: number, maxAge: number | undefined): FeatureStatus {
  if (time === null) return "NOT_FOUND";
  if (maxAge !== undefined && !Number.isNaN(time) && at - time > maxAge) return "OUTSIDE_MAX_AGE";
  return isNull(value) ? "NULL_VALUE" : "PRESENT";
}

/** Null in a column of HistoricalColumns. */
function isNull(v: unknown): boolean {
  return v === null || v === undefined || (typeof v === "number" && Number.isNaN(v));
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
  const { rows: entities, times } = await readEntities(spec.entities, field);
  const n = entities.length;

  // The output is each entity row followed by these columns (the timestamp
  // in epoch ms first), built once at the end; a column named like an entity
  // field, or like an earlier column, replaces its value in place.
  const extra: ExtraColumn[] = [{ name: field, values: times }];
  const tables = [...new Set(columns.map((c) => c.table))];
  for (const table of tables) {
    const selected = columns.filter((x) => x.table === table);
    // Event times only matter for statuses and max ages.
    const eventTimes = spec.statuses === true || selected.some((c) => maxAges.has(`${table}:${c.feature}`) || maxAges.has(table));
    const read = await store.getHistorical(table, entities, { timestampField: field, columns: true, eventTimes, times });
    for (const c of selected) {
      const values = featureColumn(read, table, c.feature);
      if (read.eventTimes === undefined) {
        // Handed on as is: the rows are built from the columns once, at the end.
        extra.push({ name: c.name, values, nanIsNull: true });
        continue;
      }
      const maxAge = maxAges.get(`${table}:${c.feature}`) ?? maxAges.get(table);
      const col = new Array<unknown>(n);
      const statuses = spec.statuses === true ? new Array<FeatureStatus>(n) : undefined;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        const status = statusOf(v, read.eventTimes[i] ?? null, times[i] as number, maxAge);
        // A key with no event yet reads like an empty window (count 0); only an expired value is withheld.
        col[i] = status === "OUTSIDE_MAX_AGE" ? null : v;
        if (statuses !== undefined) statuses[i] = status;
      }
      extra.push({ name: c.name, values: col, nanIsNull: true });
      if (statuses !== undefined) extra.push({ name: `${c.name}__status`, values: statuses });
    }
  }
  for (const l of labels) {
    if (l.kind === "column") {
      const col = new Array<unknown>(n);
      for (let i = 0; i < n; i++) {
        const e = entities[i] as Row;
        if (!(l.column in e)) throw new DefinitionError(`training set: label column "${l.column}" is missing in entity row ${i}`, { row: i, field: l.column });
        col[i] = l.column === field ? times[i] : e[l.column];
      }
      extra.push({ name: l.name, values: col });
    } else {
      const read = await store.getHistorical(l.table, entities, { timestampField: field, columns: true, times: times.map((t) => t + l.lookahead) });
      extra.push({ name: l.name, values: featureColumn(read, l.table, l.feature), nanIsNull: true });
    }
  }
  return rowsWith(entities, extra);
}

function featureColumn(read: HistoricalColumns, table: string, feature: string): ArrayLike<unknown> {
  const values = read.features.get(feature);
  if (values === undefined) throw new DefinitionError(`training set: table "${table}" returned no column "${feature}"`, { field: "features" });
  return values;
}

// ---- building rows and ordering point-in-time reads (also used by FeatureStore.getHistorical) ----

/** A column added to copied rows. Feature columns hold NaN for null: `nanIsNull` turns it back. */
export interface ExtraColumn {
  readonly name: string;
  readonly values: ArrayLike<unknown>;
  readonly nanIsNull?: boolean;
}

type RowMaker = (e: Row, columns: ReadonlyArray<ArrayLike<unknown>>, i: number) => Row;

/**
 * New rows `{ ...e, [c.name]: c.values[i], ... }` for each entity row e (or
 * only e's `fields`): a column named like a field, or like an earlier column,
 * replaces that value in place. Rows with the first row's fields are built
 * by one generated object literal (one hidden class up front; copying a row
 * and adding properties one by one is several times slower on millions of
 * rows, and a spread copy followed by additions many times slower still);
 * any other row is copied field by field.
 */
export function rowsWith(entities: readonly Row[], columns: readonly ExtraColumn[], fields?: readonly string[]): Row[] {
  const n = entities.length;
  const out = new Array<Row>(n);
  if (n === 0) return out;
  const names = fields ?? Object.keys(entities[0] as Row);
  const make = rowMaker(names, columns);
  const values = columns.map((c) => c.values);
  for (let i = 0; i < n; i++) {
    const e = entities[i] as Row;
    out[i] = make !== undefined && (fields !== undefined || hasFields(e, names)) ? make(e, values, i) : copyRow(e, columns, i, fields);
  }
  return out;
}

/** True when the row's own enumerable fields are exactly `names`, in that order (what the generated literal copies). */
function hasFields(e: Row, names: readonly string[]): boolean {
  const proto: unknown = Object.getPrototypeOf(e);
  // for-in also lists inherited enumerable fields, which a copy leaves out: only plain rows qualify.
  if (proto !== Object.prototype && proto !== null) return false;
  let j = 0;
  for (const k in e) {
    if (k !== names[j]) return false;
    j++;
  }
  return j === names.length;
}

function copyRow(e: Row, columns: readonly ExtraColumn[], i: number, fields: readonly string[] | undefined): Row {
  const r: Row = {};
  for (const k of fields ?? Object.keys(e)) setField(r, k, e[k]);
  for (const c of columns) {
    const v = c.values[i];
    setField(r, c.name, c.nanIsNull === true && typeof v === "number" && Number.isNaN(v) ? null : v);
  }
  return r;
}

/** Generated row makers by their code; reads repeat the same shapes, and compiling one costs far more than a small read. */
const makers = new Map<string, RowMaker | null>();
const MAX_MAKERS = 256;

function rowMaker(fields: readonly string[], columns: readonly ExtraColumn[]): RowMaker | undefined {
  // Each property once, at its first position, from its last source.
  const source = new Map<string, string>();
  for (const f of fields) source.set(f, `e[${JSON.stringify(f)}]`);
  columns.forEach((c, k) => source.set(c.name, c.nanIsNull === true ? `((x = c[${k}][i]) !== x ? null : x)` : `c[${k}][i]`));
  const props = [...source].map(([name, expr]) => `${literalKey(name)}: ${expr}`);
  const code = `let x;\nreturn { ${props.join(", ")} };`;
  const cached = makers.get(code);
  if (cached !== undefined) return cached ?? undefined;
  let make: RowMaker | null;
  try {
    make = new Function("e", "c", "i", `${code}\n//# sourceURL=freshet-generated/row-maker.js`) as RowMaker;
  } catch {
    make = null; // code generation from strings can be disabled (--disallow-code-generation-from-strings)
  }
  if (makers.size >= MAX_MAKERS) makers.clear();
  makers.set(code, make);
  return make ?? undefined;
}
