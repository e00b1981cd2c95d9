import { hasBrand, ON_DEMAND_BRAND } from "../core/brand.js";
import { isFieldType, type RowOf, type Schema, type Simplify } from "../core/schema.js";
import { DefinitionError } from "../errors.js";
import type { Row } from "../plan/nodes.js";
import type { AnyTable, TableKeys, TableRow } from "./table.js";

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** Key fields and features of every input table, as one row. */
export type InputsOf<Ts extends readonly AnyTable[]> = Simplify<UnionToIntersection<TableRow<Ts[number]>>>;
/** The key fields of every input table. */
export type KeysOf<Ts extends readonly AnyTable[]> = Simplify<UnionToIntersection<TableKeys<Ts[number]>>>;

/**
 * A feature computed when it is read (Volga's on-demand features), from
 * request data and the features of stored tables as of the read time. The
 * same `compute` runs in getOnline (at the store clock or `at`) and in
 * getHistorical (at each entity row's time).
 */
export class OnDemandFeature<Name extends string, Keys extends Row, Request extends Row, Out extends Row> {
  readonly [ON_DEMAND_BRAND] = true as const;
  static [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, ON_DEMAND_BRAND);
  }

  declare readonly __keys: Keys;
  declare readonly __request: Request;
  declare readonly __out: Out;

  constructor(
    readonly name: Name,
    readonly inputs: readonly AnyTable[],
    readonly request: Schema,
    readonly output: Schema,
    readonly compute: (input: Row, at: number) => Row,
  ) {}
}

export type AnyOnDemand = OnDemandFeature<string, Row, Row, Row>;
/** What a read of an on-demand feature takes per row: the input tables' keys plus the request fields. */
export type OnDemandInput<F> = F extends OnDemandFeature<string, infer K, infer Q, Row> ? Simplify<K & Q> : never;
/** What it returns per row: the keys plus the computed fields. */
export type OnDemandRow<F> = F extends OnDemandFeature<string, infer K, Row, infer O> ? Simplify<K & O> : never;

export interface OnDemandSpec<Req extends Schema, Ts extends readonly AnyTable[], Out extends Schema> {
  /** Tables whose features (as of the read time) are inputs; their key fields must be in each request row. */
  readonly inputs: Ts;
  /** Fields each request row brings besides the keys (typed, like a dataset schema). */
  readonly request: Req;
  /** The computed fields and their types. */
  readonly output: Out;
  /** Computes the output from the request fields, the input features and the read time (epoch ms). */
  readonly compute: (input: Simplify<RowOf<Req> & InputsOf<Ts>>, at: number) => RowOf<Out>;
}

/** Declares an on-demand feature; apply it to a store with its input tables. */
export function onDemand<Name extends string, Req extends Schema, const Ts extends readonly AnyTable[], Out extends Schema>(
  name: Name,
  spec: OnDemandSpec<Req, Ts, Out>,
): OnDemandFeature<Name, KeysOf<Ts>, RowOf<Req>, RowOf<Out>> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new DefinitionError(`on-demand feature name "${name}" must be an identifier`);
  if (typeof spec?.compute !== "function") throw new DefinitionError(`onDemand("${name}"): "compute" must be a function`, { field: "compute" });
  for (const [part, schema] of [["request", spec.request], ["output", spec.output]] as const) {
    for (const [field, ft] of Object.entries(schema ?? {})) {
      if (!isFieldType(ft)) throw new DefinitionError(`onDemand("${name}"): ${part} field "${field}" is not a field type; use t.float(), ...`, { field });
    }
  }
  if (Object.keys(spec.output ?? {}).length === 0) throw new DefinitionError(`onDemand("${name}"): "output" needs at least one field`, { field: "output" });
  return new OnDemandFeature(name, [...spec.inputs], spec.request, spec.output, spec.compute as (input: Row, at: number) => Row);
}
