import { DefinitionError } from "../errors.js";
import type { NumericFields, Simplify } from "../core/schema.js";
import type { AggregationDef, PlanNode, Row } from "../plan/nodes.js";
import { schemaAfter, validateAggregate } from "../plan/validate.js";
import type { NumericAggKind, ValueAggKind } from "../plan/nodes.js";
import type { Aggregation, ResolvedResult } from "./aggregations.js";
import { checkTableMeta, Table, type TableMeta } from "./table.js";
import { countWindowOf, OperatorStage, type ApplyOptions, type NamedOperator, type OperatorLike, type OutputRow } from "./operator.js";
import type { RowOf, Schema } from "../core/schema.js";

/** Aggregations allowed on rows R: numeric ones read a numeric field of R (or none), value ones any field of R. */
export type AggregationsFor<R> = Record<
  string,
  Aggregation<NumericAggKind, NumericFields<R> | undefined, unknown> | Aggregation<ValueAggKind, keyof R & string, unknown>
>;

export type FeaturesOf<A, R = Row> = { [N in keyof A]: ResolvedResult<A[N], R> };

export class GroupedDataset<R extends Row, K extends keyof R & string> {
  constructor(
    readonly input: PlanNode,
    readonly keys: readonly K[],
  ) {}

  /**
   * Count windows in the style of ralf: each key's last `size` records, every
   * `slide` records, handed to a custom operator with `.apply(op, { output })`.
   */
  window(options: { readonly size: number; readonly slide?: number }): OperatorStage<R[], Simplify<Pick<R, K>>> {
    return new OperatorStage(this.input, this.keys, countWindowOf(options));
  }

  /** Runs a custom operator on each record of each key, in order; name the result with `.as(name)`. */
  apply<S extends Schema>(op: OperatorLike<R, RowOf<S>>, options: ApplyOptions<S>): NamedOperator<Simplify<Pick<R, K>>, OutputRow<S>, R, RowOf<S>> {
    return new OperatorStage<R, Simplify<Pick<R, K>>>(this.input, this.keys, undefined).apply(op, options);
  }

  /**
   * Per key, each other field's latest non-null value (over the key's whole
   * history, ties: the last to arrive); null before any. Name it with `.as(name)`.
   */
  latest(): AggregatedDataset<Simplify<Pick<R, K>>, { [F in Exclude<keyof R & string, K>]: NonNullable<R[F]> | null }> {
    return this.everyField("latest", "last");
  }

  /** Per key, each other field's first non-null value (the earliest event; ties: the first to arrive). */
  first(): AggregatedDataset<Simplify<Pick<R, K>>, { [F in Exclude<keyof R & string, K>]: NonNullable<R[F]> | null }> {
    return this.everyField("first", "first");
  }

  private everyField<Out extends Row>(method: string, kind: "first" | "last"): AggregatedDataset<Simplify<Pick<R, K>>, Out> {
    const schema = schemaAfter(this.input);
    if (schema === undefined) throw new DefinitionError(`${method}(): the fields are unknown (a map without a schema); give the map a schema or use aggregate({ ... })`);
    const defs: Record<string, AggregationDef> = {};
    for (const f of Object.keys(schema)) {
      if ((this.keys as readonly string[]).includes(f)) continue;
      defs[f] = { kind, field: f, window: Number.POSITIVE_INFINITY };
    }
    validateAggregate(this.input, this.keys, defs);
    return new AggregatedDataset({ kind: "aggregate", input: this.input, keys: [...this.keys], aggregations: defs });
  }

  /** Windowed aggregates per key. Name the result with `.as("table_name")`. */
  aggregate<A extends AggregationsFor<R>>(aggregations: A): AggregatedDataset<Simplify<Pick<R, K>>, FeaturesOf<A, R>> {
    const defs: Record<string, AggregationDef> = {};
    for (const [name, agg] of Object.entries(aggregations)) {
      if (typeof agg !== "object" || agg === null || !("def" in agg)) {
        throw new DefinitionError(`aggregation "${name}" is not an aggregation; use count(), sum(), avg(), stddev(), first(), topK() and the like`, { field: name });
      }
      defs[name] = agg.def;
    }
    validateAggregate(this.input, this.keys, defs);
    return new AggregatedDataset({ kind: "aggregate", input: this.input, keys: [...this.keys], aggregations: defs });
  }
}

export class AggregatedDataset<Keys extends Row, Features extends Row> {
  constructor(readonly node: PlanNode & { kind: "aggregate" }) {}

  /** Names the feature table; the name is how stores and servers find it. */
  as<Name extends string>(name: Name, meta: TableMeta = {}): Table<Name, Keys, Features> {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new DefinitionError(`table name "${name}" must be an identifier (letters, digits, _)`);
    return new Table(name, this.node, checkTableMeta(name, meta));
  }
}
