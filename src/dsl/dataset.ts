import { DATASET_BRAND, hasBrand, SOURCE_DATASET_BRAND } from "../core/brand.js";
import { checkTableMeta } from "./table.js";
import { parseDuration, type Duration } from "../core/duration.js";
import { isFieldType, type FieldType, type KeyableFields, type RowOf, type Schema, type Simplify, type ValueOf } from "../core/schema.js";
import { DefinitionError } from "../errors.js";
import type { PlanNode, Row, SourceDef } from "../plan/nodes.js";
import { schemaAfter } from "../plan/validate.js";
import { GroupedDataset } from "./grouped.js";

/**
 * A stream of rows of type R flowing from one source dataset. Every method
 * returns a new, immutable Dataset; nothing runs until a FeatureStore applies it.
 */
export class Dataset<R extends Row> {
  readonly [DATASET_BRAND] = true as const;
  static [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, DATASET_BRAND);
  }

  /** The plan node this dataset stands for. */
  readonly node: PlanNode;
  /** Phantom: the row type, for InferRow. */
  declare readonly __row: R;

  constructor(node: PlanNode) {
    this.node = node;
  }

  /** Keeps the rows for which the predicate is true. */
  filter(predicate: (row: R) => boolean): Dataset<R> {
    return new Dataset<R>({ kind: "filter", input: this.node, predicate: predicate as (row: Row) => boolean });
  }

  /**
   * Turns each row into another. The event time travels with the row whatever
   * the function returns. Give `schema` to let definitions be checked at apply time.
   */
  map<O extends Row>(fn: (row: R) => O, schema?: Schema): Dataset<O> {
    return new Dataset<O>({ kind: "map", input: this.node, fn: fn as (row: Row) => Row, schema });
  }

  /** Alias of map, in the words of Volga and Fennel. */
  transform<O extends Row>(fn: (row: R) => O, schema?: Schema): Dataset<O> {
    return this.map(fn, schema);
  }

  /** Adds (or replaces) one computed column of a declared type. */
  assign<N extends string, F extends FieldType>(
    field: N,
    type: F,
    fn: (row: R) => ValueOf<F>,
  ): Dataset<Simplify<Omit<R, N> & { [K in N]: ValueOf<F> }>> {
    if (!isFieldType(type)) throw new DefinitionError(`assign("${field}"): the second argument must be a field type such as t.float()`, { field });
    return new Dataset({ kind: "assign", input: this.node, field, type, fn: fn as (row: Row) => unknown });
  }

  /** Keeps only the named fields. */
  select<F extends keyof R & string>(...fields: F[]): Dataset<Simplify<Pick<R, F>>> {
    const node: PlanNode = { kind: "select", input: this.node, fields };
    schemaAfter(node);
    return new Dataset(node);
  }

  /** Removes the named fields. */
  drop<F extends keyof R & string>(...fields: F[]): Dataset<Simplify<Omit<R, F>>> {
    const node: PlanNode = { kind: "drop", input: this.node, fields };
    schemaAfter(node);
    return new Dataset(node);
  }

  /** Renames fields: `rename({ old: "new" })`. Other fields keep their names. */
  rename<const M extends { readonly [K in keyof R & string]?: string }>(mapping: M): Dataset<Renamed<R, M>> {
    for (const [from, to] of Object.entries(mapping)) {
      if (typeof to !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(to)) {
        throw new DefinitionError(`rename: the new name of "${from}" must be an identifier, got ${String(to)}`, { field: from });
      }
    }
    const node: PlanNode = { kind: "rename", input: this.node, mapping: { ...(mapping as Record<string, string>) } };
    schemaAfter(node);
    return new Dataset(node);
  }

  /** Drops rows with a null (or missing) value in any field. */
  dropNull(): Dataset<Simplify<{ [K in keyof R]: NonNullable<R[K]> }>>;
  /** Drops rows with a null (or missing) value in one of these fields; their types lose `null`. */
  dropNull<F extends keyof R & string>(...fields: F[]): Dataset<Simplify<Omit<R, F> & { [K in F]: NonNullable<R[K]> }>>;
  dropNull(...fields: string[]): Dataset<Row> {
    const node: PlanNode = { kind: "dropNull", input: this.node, fields };
    schemaAfter(node);
    return new Dataset(node);
  }

  /**
   * One row per element of a list field, the other fields and the event time
   * copied; a row whose list is empty or null yields none.
   */
  explode<F extends ListFields<R>>(field: F): Dataset<Simplify<Omit<R, F> & { [K in F]: ElementOf<R[K]> }>> {
    return new Dataset({ kind: "explode", input: this.node, field });
  }

  /**
   * Drops duplicates: a row is dropped when the latest kept row with the same
   * values of `by` (all fields when omitted) is less than `window` away in
   * event time. With rows arriving in event-time order the first of each run
   * is kept; for rows arriving out of order, the first to arrive.
   */
  dedup(options: { readonly by?: ReadonlyArray<keyof R & string>; readonly window: Duration }): Dataset<R> {
    if (typeof options !== "object" || options === null) throw new DefinitionError("dedup: options { by?, window } are required", { field: "window" });
    const node: PlanNode = { kind: "dedup", input: this.node, by: [...(options.by ?? [])], window: parseDuration(options.window) };
    schemaAfter(node);
    return new Dataset(node);
  }

  /**
   * The rows of this stream and of `other` (same fields and types) as one
   * stream, each keeping its event time; the two may come from different
   * source datasets, and the table's watermark is then the smaller of theirs.
   */
  union(other: Dataset<R>): Dataset<R> {
    if (!(other instanceof Dataset)) throw new DefinitionError("union: the argument must be a dataset", { field: "other" });
    const a = schemaAfter(this.node);
    const b = schemaAfter(other.node);
    if (a !== undefined && b !== undefined) {
      const fa = Object.keys(a).sort();
      const fb = Object.keys(b).sort();
      if (fa.join(",") !== fb.join(",")) throw new DefinitionError(`union: the streams have different fields: [${fa.join(", ")}] and [${fb.join(", ")}]`, { field: "other" });
      for (const f of fa) {
        if ((a[f] as Schema[string]).kind !== (b[f] as Schema[string]).kind) {
          throw new DefinitionError(`union: field "${f}" is ${(a[f] as Schema[string]).kind} in one stream and ${(b[f] as Schema[string]).kind} in the other`, { field: f });
        }
      }
    }
    return new Dataset({ kind: "union", input: this.node, other: other.node });
  }

  /**
   * Interval join with another stream: every pair of a row here at time l and
   * a row of `other` at time r with equal `on` values and
   * l − lower <= r <= l + upper becomes a row, the fields of both (other's
   * key fields left out, the rest named with `prefix`), at event time
   * max(l, r), so that a pair never appears before both rows happened.
   */
  intervalJoin<RR extends Row, const O extends IntervalJoinOptions<R, RR>>(other: Dataset<RR>, options: O): Dataset<IntervalJoined<R, RR, O>> {
    if (!(other instanceof Dataset)) throw new DefinitionError("intervalJoin: the other side must be a dataset", { field: "other" });
    if (typeof options !== "object" || options === null) throw new DefinitionError("intervalJoin: options { on, lower, upper } are required", { field: "on" });
    const on = [...options.on];
    const otherOn = [...(options.otherOn ?? (options.on as readonly string[]))];
    if (on.length === 0 || on.length !== otherOn.length) {
      throw new DefinitionError(`intervalJoin: "on" and "otherOn" must name the same number of fields (at least one)`, { field: "on" });
    }
    const bound = (name: "lower" | "upper"): number => {
      const v = options[name];
      if (v === 0) return 0;
      return parseDuration(v);
    };
    const lower = bound("lower");
    const upper = bound("upper");
    const left = schemaAfter(this.node);
    const right = schemaAfter(other.node);
    if (left !== undefined && right !== undefined) {
      on.forEach((f, i) => {
        const lt = left[f];
        const of = otherOn[i] as string;
        const rt = right[of];
        if (lt === undefined) throw new DefinitionError(`intervalJoin: unknown field "${f}"`, { field: f });
        if (rt === undefined) throw new DefinitionError(`intervalJoin: the other stream has no field "${of}"`, { field: of });
        const numeric = (k: string): boolean => k === "int" || k === "float";
        if (lt.kind !== rt.kind && !(numeric(lt.kind) && numeric(rt.kind))) {
          throw new DefinitionError(`intervalJoin: key type mismatch: "${f}" is ${lt.kind} but "${of}" is ${rt.kind}`, { field: f });
        }
      });
    }
    const prefix = options.prefix ?? "";
    const fields = right === undefined ? [] : Object.keys(right).filter((f) => !otherOn.includes(f)).map((f) => ({ from: f, as: `${prefix}${f}` }));
    if (right === undefined) throw new DefinitionError("intervalJoin: the other stream's fields are unknown (a map without a schema); give the map a schema", { field: "other" });
    if (left !== undefined) {
      for (const { as } of fields) {
        if (as in left) throw new DefinitionError(`intervalJoin: field "${as}" is in both streams; give a prefix, e.g. { prefix: "other_" }`, { field: as });
      }
    }
    return new Dataset({ kind: "intervalJoin", input: this.node, other: other.node, on, otherOn, lower, upper, fields });
  }

  /**
   * Temporal lookup join with a keyed dataset: each row gets the dataset's
   * latest row for its key at or before the row's event time (never a later
   * one), optionally no older than `within`. `on` names this stream's fields
   * holding the dataset's key values (default: the same names). The joined
   * fields are the dataset's fields other than its keys and event time,
   * named with `prefix`; with `how: "left"` rows without a match are kept
   * with nulls, with "inner" (the default) they are dropped.
   *
   * A row at time t is joined once the dataset's watermark has passed t (or
   * the dataset ended or went idle), so that online and replayed results
   * agree; until then it waits.
   */
  join<RS extends Schema, RK extends string, RT extends string, const O extends JoinOptions<R> = JoinOptions<R>>(
    right: SourceDataset<string, RS, RK, RT>,
    options?: O,
  ): Dataset<Joined<R, RowOf<RS>, RK | RT, O>> {
    if (!(right instanceof SourceDataset)) throw new DefinitionError("join: the right side must be a source dataset declared with dataset(...)", { field: "right" });
    const rdef = right.def;
    if (rdef.keys.length === 0) {
      throw new DefinitionError(`join: dataset "${rdef.name}" has no key; declare it with { key: [...] } to look it up`, { dataset: rdef.name });
    }
    const on = [...(options?.on ?? rdef.keys)];
    if (on.length !== rdef.keys.length) {
      throw new DefinitionError(`join: "on" names ${on.length} field(s), dataset "${rdef.name}" has ${rdef.keys.length} key field(s) [${rdef.keys.join(", ")}]`, { field: "on" });
    }
    const left = schemaAfter(this.node);
    if (left !== undefined) {
      on.forEach((f, i) => {
        const lt = left[f];
        const rk = rdef.keys[i] as string;
        const rt = rdef.schema[rk] as Schema[string];
        if (lt === undefined) throw new DefinitionError(`join: the stream has no field "${f}" to match key "${rk}" of "${rdef.name}"`, { field: f });
        const numeric = (k: string): boolean => k === "int" || k === "float";
        if (lt.kind !== rt.kind && !(numeric(lt.kind) && numeric(rt.kind))) {
          throw new DefinitionError(`join: key type mismatch: "${f}" is ${lt.kind} but key "${rk}" of "${rdef.name}" is ${rt.kind}`, { field: f });
        }
      });
    }
    const prefix = options?.prefix ?? "";
    const fields = Object.keys(rdef.schema)
      .filter((f) => !rdef.keys.includes(f) && f !== rdef.timestamp)
      .map((f) => ({ from: f, as: `${prefix}${f}` }));
    if (left !== undefined) {
      for (const { as } of fields) {
        if (as in left) throw new DefinitionError(`join: field "${as}" of "${rdef.name}" is also a field of the stream; give a prefix, e.g. { prefix: "${rdef.name}_" }`, { field: as });
      }
    }
    const how = options?.how ?? "inner";
    if (how !== "inner" && how !== "left") throw new DefinitionError(`join: "how" must be "inner" or "left", got ${String(how)}`, { field: "how" });
    const within = options?.within === undefined ? undefined : parseDuration(options.within);
    return new Dataset({ kind: "join", input: this.node, right: rdef, on, fields, how, within });
  }

  /** Groups rows by one or more key fields, for aggregate(). */
  groupBy<K extends KeyableFields<R>>(...keys: K[]): GroupedDataset<R, K> {
    return new GroupedDataset<R, K>(this.node, keys);
  }
}

export interface DatasetOptions<S extends Schema> {
  /** The event-time field (a t.timestamp()). */
  readonly timestamp: keyof S & string;
  /** Key fields: makes the dataset a keyed table. Omit for an event stream. */
  readonly key?: ReadonlyArray<keyof S & string>;
  /** Allowed disorder of event time (default 0: events must arrive in order). */
  readonly lateness?: Duration;
  /**
   * Joins reading this dataset wait for it (see Dataset.join); after this long
   * without events (processing time, by the store's clock) they stop waiting.
   * Default: they always wait.
   */
  readonly idleTimeout?: Duration;
  /**
   * Record accepted events in the offline history (default true). History is
   * what point-in-time reads, training sets, getOffline, replays, restarts
   * and tables added later are computed from; `false` saves the space for a
   * stream only ever served online, and those reads of its tables are then refused.
   */
  readonly record?: boolean;
  /** Registry metadata. Changing a key field's type is refused unless `version` is raised. */
  readonly version?: number;
  readonly description?: string;
  readonly owner?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/** A source dataset: the entry point of rows from outside. `Keys` and `Ts` name its key and event-time fields. */
export class SourceDataset<Name extends string, S extends Schema, Keys extends string = string, Ts extends string = string> extends Dataset<RowOf<S>> {
  readonly [SOURCE_DATASET_BRAND] = true as const;
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, SOURCE_DATASET_BRAND);
  }

  declare readonly __keys: Keys;
  declare readonly __ts: Ts;
  readonly name: Name;
  readonly def: SourceDef;
  /** The declared schema, with its types (to extend it in another dataset). */
  readonly schema: S;

  constructor(name: Name, schema: S, def: SourceDef) {
    super({ kind: "source", source: def });
    this.name = name;
    this.schema = schema;
    this.def = def;
  }
}

/** Declares a source dataset: its name, typed schema, event-time field and optional keys. */
export function dataset<Name extends string, S extends Schema, const O extends DatasetOptions<S>>(
  name: Name,
  schema: S,
  options: O,
): SourceDataset<Name, S, O["key"] extends ReadonlyArray<infer K extends string> ? K : never, O["timestamp"]> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new DefinitionError(`dataset name "${name}" must be an identifier (letters, digits, _)`, { dataset: name });
  }
  for (const [field, type] of Object.entries(schema)) {
    if (!isFieldType(type)) throw new DefinitionError(`field "${field}" of dataset "${name}" is not a field type; use t.string(), t.float(), ...`, { dataset: name, field });
    // The offline history keeps its own columns beside the fields under this prefix.
    if (field.startsWith("__freshet")) throw new DefinitionError(`field "${field}" of dataset "${name}": names starting with "__freshet" are reserved`, { dataset: name, field });
  }
  const tsType = schema[options.timestamp];
  if (tsType === undefined || tsType.kind !== "timestamp") {
    throw new DefinitionError(`dataset "${name}": timestamp field "${String(options.timestamp)}" must be declared as t.timestamp()`, { dataset: name, field: String(options.timestamp) });
  }
  if (tsType.nullable) throw new DefinitionError(`dataset "${name}": the timestamp field cannot be optional`, { dataset: name });
  const keys = [...(options.key ?? [])];
  for (const k of keys) {
    const kt = schema[k];
    if (kt === undefined) throw new DefinitionError(`dataset "${name}": key field "${k}" is not in the schema`, { dataset: name, field: k });
    if (kt.nullable) throw new DefinitionError(`dataset "${name}": key field "${k}" cannot be optional`, { dataset: name, field: k });
  }
  const def: SourceDef = Object.freeze({
    name,
    schema: Object.freeze({ ...schema }),
    timestamp: options.timestamp,
    keys: Object.freeze(keys),
    lateness: options.lateness === undefined || options.lateness === 0 ? 0 : parseDuration(options.lateness),
    ...(options.idleTimeout === undefined ? {} : { idleTimeout: parseDuration(options.idleTimeout) }),
    ...(options.record === false ? { record: false as const } : {}),
    meta: checkTableMeta(name, { ...(options.version === undefined ? {} : { version: options.version }), ...(options.description === undefined ? {} : { description: options.description }), ...(options.owner === undefined ? {} : { owner: options.owner }), ...(options.tags === undefined ? {} : { tags: options.tags }) }),
  });
  return new SourceDataset(name, schema, def);
}

export interface IntervalJoinOptions<R, RR> {
  /** This stream's fields to match. */
  readonly on: ReadonlyArray<keyof R & string>;
  /** The other stream's fields they must equal (default: the same names). */
  readonly otherOn?: ReadonlyArray<keyof RR & string>;
  /** How long before this row the other's may be (0 or a duration). */
  readonly lower: Duration | 0;
  /** How long after this row the other's may be (0 or a duration). */
  readonly upper: Duration | 0;
  /** Prepended to the other stream's field names. */
  readonly prefix?: string;
}

/** The row of an interval join: this stream's fields plus the other's (its matched fields left out), prefixed. */
export type IntervalJoined<R, RR, O> = Simplify<
  R & {
    [F in Exclude<keyof RR & string, O extends { readonly otherOn: ReadonlyArray<infer K> } ? K : O extends { readonly on: ReadonlyArray<infer K> } ? K : never> as `${O extends { readonly prefix: infer P extends string } ? P : ""}${F}`]: RR[F];
  }
>;

export interface JoinOptions<R> {
  /** This stream's fields holding the right dataset's key values, in key order (default: the key names). */
  readonly on?: ReadonlyArray<keyof R & string>;
  /** Only right rows at most this old at the row's event time. */
  readonly within?: Duration;
  /** "inner" (default): drop rows without a match; "left": keep them with nulls. */
  readonly how?: "inner" | "left";
  /** Prepended to the joined fields' names. */
  readonly prefix?: string;
}

/** The row of a join: the stream's fields plus the right's other fields (prefixed; nullable in a left join). */
export type Joined<R, RR, Excluded extends string, O> = Simplify<
  R & {
    [F in Exclude<keyof RR & string, Excluded> as `${O extends { readonly prefix: infer P extends string } ? P : ""}${F}`]: O extends { readonly how: "left" }
      ? RR[F] | null
      : RR[F];
  }
>;

/** Row R with fields renamed by M. */
export type Renamed<R, M> = Simplify<{
  [K in keyof R as K extends keyof M ? (M[K] extends string ? M[K] : K) : K]: R[K];
}>;

/** Field names of R whose values are lists (possibly null). */
export type ListFields<R> = {
  [F in keyof R & string]: NonNullable<R[F]> extends readonly unknown[] ? F : never;
}[keyof R & string];

/** The element type of a (nullable) list type. */
export type ElementOf<L> = NonNullable<L> extends ReadonlyArray<infer E> ? E : never;

/** The row type of a dataset, as its pipeline functions see it. */
export type InferRow<D> = D extends Dataset<infer R> ? R : never;
