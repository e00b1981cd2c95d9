import { parseDuration, type Duration } from "../core/duration.js";
import { DefinitionError } from "../errors.js";
import type { AggKind, AggregationDef, AggregationParams } from "../plan/nodes.js";

export interface WindowOptions {
  /**
   * A duration is a sliding window: the value read at t covers events in
   * (t − window, t]. Or `tumbling(size)`, `hopping(size, hop)`, `forever()`.
   */
  readonly window: Duration | WindowSpec;
}

/** A window other than the default sliding one. */
export interface WindowSpec {
  readonly kind: "tumbling" | "hopping" | "forever" | "session";
  /** Milliseconds (Infinity for forever and session). */
  readonly size: number;
  /** Milliseconds between window starts (0 for forever and session). */
  readonly hop: number;
  /** Session windows: the longest pause within a session, milliseconds (0 otherwise). */
  readonly gap: number;
}

/**
 * Tumbling windows of `size`, aligned to the epoch (UTC): read at t, the
 * value covers the window that contains t, from ⌊t / size⌋·size up to t.
 */
export function tumbling(size: Duration): WindowSpec {
  const ms = parseDuration(size);
  return Object.freeze({ kind: "tumbling", size: ms, hop: ms, gap: 0 });
}

/**
 * Hopping windows of `size` starting every `hop`, aligned to the epoch (UTC):
 * read at t, the value covers the oldest window still open at t, from
 * ⌊t / hop⌋·hop + hop − size up to t. A sliding window whose start moves in
 * steps of `hop` (at least size − hop long, at most size).
 */
export function hopping(size: Duration, hop: Duration): WindowSpec {
  const s = parseDuration(size);
  const h = parseDuration(hop);
  if (h > s) throw new DefinitionError(`hopping: the hop (${String(hop)}) must not be longer than the window (${String(size)})`, { field: "hop" });
  return Object.freeze({ kind: "hopping", size: s, hop: h, gap: 0 });
}

/**
 * A sliding window kept in tiles (as Chronon and Tecton keep long windows):
 * read at t, the value covers the events from ⌊(t − window) / tile⌋·tile up
 * to t, so at least `window` and less than `window + tile`; the newest end is
 * exact, the oldest end moves in steps of `tile`. A key keeps one snapshot
 * per tile instead of every event (see Tiles in the README): a 7-day window
 * in 12-hour tiles holds under 1 KiB per key at any event rate. It is
 * `hopping(window + tile, tile)`; `window` must be a whole number of tiles.
 * Without `tile`, the exact sliding window (t − window, t].
 */
export function sliding(window: Duration, options: { readonly tile?: Duration } = {}): Duration | WindowSpec {
  const w = parseDuration(window);
  if (options.tile === undefined) return w;
  const p = parseDuration(options.tile);
  if (!(p > 0) || w % p !== 0) throw new DefinitionError(`sliding: the window (${String(window)}) must be a whole number of tiles (${String(options.tile)})`, { field: "tile" });
  return hopping(w + p, p);
}

/** All of a key's events up to the read time. */
export function forever(): WindowSpec {
  return Object.freeze({ kind: "forever", size: Number.POSITIVE_INFINITY, hop: 0, gap: 0 });
}

/**
 * Session windows: read at t, the value covers the key's session open at t,
 * the run of events each at most `gap` after the one before, ending with the
 * latest event at or before t. When that event is more than `gap` before t
 * the session has closed and the window is empty.
 */
export function session(gap: Duration): WindowSpec {
  return Object.freeze({ kind: "session", size: Number.POSITIVE_INFINITY, hop: 0, gap: parseDuration(gap) });
}

function windowOf(w: unknown): { window: number; hop?: number; gap?: number } {
  if (typeof w === "object" && w !== null && "kind" in w) {
    const spec = w as WindowSpec;
    if (spec.kind === "forever") return { window: Number.POSITIVE_INFINITY };
    if (spec.kind === "session" && Number.isInteger(spec.gap) && spec.gap > 0) return { window: Number.POSITIVE_INFINITY, gap: spec.gap };
    if ((spec.kind === "tumbling" || spec.kind === "hopping") && Number.isInteger(spec.size) && Number.isInteger(spec.hop) && spec.hop > 0 && spec.hop <= spec.size) {
      return { window: spec.size, hop: spec.hop };
    }
    throw new DefinitionError(`not a window: use a duration, tumbling(size), hopping(size, hop), session(gap) or forever()`, { field: "window" });
  }
  return { window: parseDuration(w) };
}

/**
 * A typed aggregation spec. `Field` is the input field it reads (never for
 * count(*)), `Result` the type it reads as. The phantom `result` property only
 * carries the type. Aggregations whose result depends on the field's type
 * (first, lastK, topK, ...) carry a marker resolved against the row type by
 * `groupBy(...).aggregate(...)`.
 */
export interface Aggregation<Kind extends AggKind, Field extends string | undefined, Result> {
  readonly def: AggregationDef & { readonly kind: Kind; readonly field: Field };
  readonly result?: Result;
}

export type AnyAggregation = Aggregation<AggKind, string | undefined, unknown>;

declare const marker: unique symbol;
/** Result marker: the field's value, or null for an empty window. */
export interface ValueOfField {
  readonly [marker]: "value";
}
/** Result marker: an array of the field's non-null values. */
export interface ValuesOfField {
  readonly [marker]: "values";
}
/** Result marker: the field's most frequent values with their counts. */
export interface CountsOfField {
  readonly [marker]: "counts";
}

/** One entry of a topK result. */
export interface ValueCount<V> {
  readonly value: V;
  readonly count: number;
}

export type ResultOf<A> = A extends Aggregation<AggKind, string | undefined, infer R> ? R : never;

export type FieldOf<A> = A extends Aggregation<AggKind, infer F, unknown> ? F : never;

/** The type an aggregation reads as, for rows of type R. */
export type ResolvedResult<A, R> =
  ResultOf<A> extends ValueOfField
    ? FieldOf<A> extends keyof R
      ? NonNullable<R[FieldOf<A>]> | null
      : never
    : ResultOf<A> extends ValuesOfField
      ? FieldOf<A> extends keyof R
        ? Array<NonNullable<R[FieldOf<A>]>>
        : never
      : ResultOf<A> extends CountsOfField
        ? FieldOf<A> extends keyof R
          ? Array<ValueCount<NonNullable<R[FieldOf<A>]>>>
          : never
        : ResultOf<A>;

function make<Kind extends AggKind, Field extends string | undefined, Result>(
  kind: Kind,
  field: Field,
  options: WindowOptions,
  params: AggregationParams = {},
): Aggregation<Kind, Field, Result> {
  if (typeof options !== "object" || options === null) {
    throw new DefinitionError(`${kind}${field === undefined ? "" : `("${field}")`}: options with a window are required, e.g. { window: "1h" }`, { field: "window" });
  }
  return Object.freeze({ def: Object.freeze({ kind, field, ...windowOf(options.window), ...params }) });
}

function positiveInt(kind: string, name: string, v: unknown, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max) {
    throw new DefinitionError(`${kind}: "${name}" must be a whole number from 1 to ${max}, got ${String(v)}`, { field: name });
  }
  return v;
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

/** Population variance (divides by n) of the non-null values; null when there are none. */
export function variance<F extends string>(field: F, options: WindowOptions): Aggregation<"variance", F, number | null> {
  return make("variance", field, options);
}

/** Population standard deviation (square root of variance); null when there are no values. */
export function stddev<F extends string>(field: F, options: WindowOptions): Aggregation<"stddev", F, number | null> {
  return make("stddev", field, options);
}

/** The earliest non-null value in the window (ties: first to arrive); null when there is none. */
export function first<F extends string>(field: F, options: WindowOptions): Aggregation<"first", F, ValueOfField> {
  return make("first", field, options);
}

/** The latest non-null value in the window (ties: last to arrive); null when there is none. */
export function last<F extends string>(field: F, options: WindowOptions): Aggregation<"last", F, ValueOfField> {
  return make("last", field, options);
}

/** The k earliest non-null values in the window, oldest first; [] when there are none. */
export function firstK<F extends string>(field: F, options: WindowOptions & { readonly k: number }): Aggregation<"firstK", F, ValuesOfField> {
  return make("firstK", field, options, { k: positiveInt("firstK", "k", options?.k, 100_000) });
}

/** The k latest non-null values in the window, newest first; [] when there are none. */
export function lastK<F extends string>(field: F, options: WindowOptions & { readonly k: number }): Aggregation<"lastK", F, ValuesOfField> {
  return make("lastK", field, options, { k: positiveInt("lastK", "k", options?.k, 100_000) });
}

/** Number of distinct non-null values in the window (exact); 0 when empty. */
export function distinctCount<F extends string>(field: F, options: WindowOptions): Aggregation<"distinctCount", F, number> {
  return make("distinctCount", field, options);
}

/**
 * Estimated number of distinct non-null values (HyperLogLog with 2^precision
 * registers, standard error about 1.04 / sqrt(2^precision); default precision
 * 10, about 3%); 0 when empty.
 */
export function approxDistinct<F extends string>(
  field: F,
  options: WindowOptions & { readonly precision?: number },
): Aggregation<"approxDistinct", F, number> {
  const p = options?.precision ?? 10;
  if (typeof p !== "number" || !Number.isInteger(p) || p < 4 || p > 16) {
    throw new DefinitionError(`approxDistinct: "precision" must be a whole number from 4 to 16, got ${String(p)}`, { field: "precision" });
  }
  return make("approxDistinct", field, options, { precision: p });
}

/**
 * The q-quantile of the non-null values by nearest rank (the smallest value
 * with at least a fraction q of the values at or below it, as SQL's
 * quantile_disc; 0 = min, 1 = max), from a DDSketch whose answer is within
 * `accuracy` (default 0.01, i.e. 1%) relative error; null when there are none.
 */
export function approxQuantile<F extends string>(
  field: F,
  options: WindowOptions & { readonly q: number; readonly accuracy?: number },
): Aggregation<"approxQuantile", F, number | null> {
  const q = options?.q;
  if (typeof q !== "number" || !(q >= 0 && q <= 1)) {
    throw new DefinitionError(`approxQuantile: "q" must be a number from 0 to 1, got ${String(q)}`, { field: "q" });
  }
  const accuracy = options.accuracy ?? 0.01;
  if (typeof accuracy !== "number" || !(accuracy > 0 && accuracy < 1)) {
    throw new DefinitionError(`approxQuantile: "accuracy" must be a number between 0 and 1, got ${String(accuracy)}`, { field: "accuracy" });
  }
  return make("approxQuantile", field, options, { q, accuracy });
}

/** The k most frequent non-null values with their counts, most frequent first (ties: smaller value first). */
export function topK<F extends string>(field: F, options: WindowOptions & { readonly k: number }): Aggregation<"topK", F, CountsOfField> {
  return make("topK", field, options, { k: positiveInt("topK", "k", options?.k, 100_000) });
}

/**
 * Exponentially decayed sum of the window's non-null values as of the read
 * time t: each value v at time ti weighs 2^(−(t − ti) / halfLife). 0 when empty.
 */
export function decayedSum<F extends string>(
  field: F,
  options: WindowOptions & { readonly halfLife: Duration },
): Aggregation<"decayedSum", F, number> {
  if (options?.halfLife === undefined) throw new DefinitionError(`decayedSum("${field}"): "halfLife" is required, e.g. { window: "7d", halfLife: "1h" }`, { field: "halfLife" });
  return make("decayedSum", field, options, { halfLife: parseDuration(options.halfLife) });
}
