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
}

/** A source dataset: the entry point of rows from outside. */
export class SourceDataset<Name extends string, S extends Schema> extends Dataset<RowOf<S>> {
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
export function dataset<Name extends string, S extends Schema>(
  name: Name,
  schema: S,
  options: DatasetOptions<S>,
): SourceDataset<Name, S> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new DefinitionError(`dataset name "${name}" must be an identifier (letters, digits, _)`, { dataset: name });
  }
  for (const [field, type] of Object.entries(schema)) {
    if (!isFieldType(type)) throw new DefinitionError(`field "${field}" of dataset "${name}" is not a field type; use t.string(), t.float(), ...`, { dataset: name, field });
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
  });
  return new SourceDataset(name, schema, def);
}

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
