import { parseDuration, type Duration } from "../core/duration.js";
import type { AggKind, AggregationDef } from "../plan/nodes.js";

export interface WindowOptions {
  /** Sliding window length: the value read at t covers events in (t − window, t]. */
  readonly window: Duration;
}

/**
 * A typed aggregation spec. `Field` is the input field it reads (never for
 * count(*)), `Result` the type it reads as. The phantom `result` property only
 * carries the type.
 */
export interface Aggregation<Kind extends AggKind, Field extends string | undefined, Result> {
  readonly def: AggregationDef & { readonly kind: Kind; readonly field: Field };
  readonly result?: Result;
}

export type AnyAggregation = Aggregation<AggKind, string | undefined, unknown>;

export type ResultOf<A> = A extends Aggregation<AggKind, string | undefined, infer R> ? R : never;

export type FieldOf<A> = A extends Aggregation<AggKind, infer F, unknown> ? F : never;

function make<Kind extends AggKind, Field extends string | undefined, Result>(
  kind: Kind,
  field: Field,
  options: WindowOptions,
): Aggregation<Kind, Field, Result> {
  return Object.freeze({ def: Object.freeze({ kind, field, window: parseDuration(options.window) }) });
}

/** Number of events in the window; 0 when empty. */
export function count(options: WindowOptions): Aggregation<"count", undefined, number> {
  return make("count", undefined, options);
}

/** Sum of the field's non-null values in the window; 0 when empty. */
export function sum<F extends string>(field: F, options: WindowOptions): Aggregation<"sum", F, number> {
  return make("sum", field, options);
}

/** Mean of the field's non-null values in the window; null when there are none. */
export function avg<F extends string>(field: F, options: WindowOptions): Aggregation<"avg", F, number | null> {
  return make("avg", field, options);
}

/** Smallest non-null value in the window; null when there are none. */
export function min<F extends string>(field: F, options: WindowOptions): Aggregation<"min", F, number | null> {
  return make("min", field, options);
}

/** Largest non-null value in the window; null when there are none. */
export function max<F extends string>(field: F, options: WindowOptions): Aggregation<"max", F, number | null> {
  return make("max", field, options);
}
