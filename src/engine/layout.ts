import { VALUE_AGG_KINDS, type AggKind, type AggregateNode, type AggregationDef } from "../plan/nodes.js";
import { FeatureCode } from "./featureCode.js";
import { algebraOf } from "./algebras/algebra.js";
import { DECAY_HORIZON } from "./decayPrefix.js";
import { compileReadKernel, type ReadKernel } from "./readKernel.js";
import type { TilePartial } from "./tiles.js";

/** Where one feature reads from inside a key's window state. */
export interface FeatureSlot {
  readonly name: string;
  readonly kind: AggKind;
  readonly code: FeatureCode;
  /** Index into Layout.fields (or Layout.valueFields for a window reader over values); -1 for count(*). */
  readonly field: number;
  /** Variance and stddev: the index into Layout.fields of the field's squares. */
  readonly square: number;
  /** Index into Layout.windows. */
  readonly window: number;
  /** Index into Layout.deques for min/max; -1 otherwise. */
  readonly deque: number;
  /** Index into Layout.readers for aggregations read by a window reader; -1 otherwise. */
  readonly reader: number;
  /** How the feature is returned: a number (NaN = null) or any value (arrays, strings). */
  readonly out: "number" | "value";
}

/** An aggregation kept by a window reader beside the prefix sums (sketches, value counts, ...). */
export interface ReaderSlot extends Omit<AggregationDef, "field" | "window"> {
  /** Index into Layout.fields (numeric readers) or Layout.valueFields (value readers). */
  readonly field: number;
  /** Whether `field` indexes Layout.fields (approxQuantile, decayedSum) rather than Layout.valueFields. */
  readonly numeric: boolean;
  /** Index into Layout.windows. */
  readonly window: number;
  /** decayedSum: index into Layout.decays; -1 otherwise. */
  readonly decay: number;
}

/** One decayed prefix a key keeps per event (see decayPrefix.ts): a numeric field and a half-life. */
export interface DecaySlot {
  readonly field: number;
  readonly halfLife: number;
}

/** One distinct window of a table: sliding when hop is 0 (size Infinity: forever), hopping otherwise; a session when gap > 0. */
export interface WindowSlot {
  readonly size: number;
  readonly hop: number;
  readonly gap: number;
}

/** Events with time <= the bound are outside the window read at t (times are whole milliseconds). */
export function windowBound(w: WindowSlot, t: number): number {
  return w.hop === 0 ? t - w.size : Math.floor(t / w.hop) * w.hop - (w.size - w.hop) - 1;
}

export interface DequeSlot {
  readonly kind: "min" | "max";
  readonly field: number;
  readonly window: number;
}

/**
 * The compiled shape of an aggregate: which input fields are kept per event,
 * which distinct window lengths exist, and where each feature reads. Features
 * sharing a field and a window share work.
 */
export interface Layout {
  readonly keys: readonly string[];
  /** Numeric fields kept per event (NaN = null). A name may appear twice: once as is, once squared. */
  readonly fields: readonly string[];
  /** Whether a numeric field holds the square of the input value (for variance). */
  readonly squares: readonly boolean[];
  /** Whether a field needs prefix sums (sum/avg/variance read it). */
  readonly prefixed: readonly boolean[];
  /** Fields kept per event as the values themselves (first, lastK, topK, distinct counts). */
  readonly valueFields: readonly string[];
  readonly readers: readonly ReaderSlot[];
  /** Only count/sum/avg/min/max: the state a parallel replay's workers can take. */
  readonly basic: boolean;
  /**
   * Tiled (see tiles.ts): every window hopping with a size that is a
   * multiple of its hop, or forever (any aggregations). Then the distinct
   * hops, and how long before the watermark events are still kept one by one
   * (`lag`: decayedSum reads the events of its window's last 64 half-lives
   * themselves, so the longest such span); undefined when the table keeps
   * raw events.
   */
  readonly tiled: { readonly hops: readonly number[]; readonly lag: number; readonly partials: ReadonlyArray<TilePartial | undefined> } | undefined;
  /** The decayed prefixes kept per event, one per distinct (field, half-life) of decayedSum features. */
  readonly decays: readonly DecaySlot[];
  readonly windows: readonly WindowSlot[];
  readonly features: readonly FeatureSlot[];
  readonly deques: readonly DequeSlot[];
  /** The longest window: events older than watermark − retention can be evicted. */
  readonly retention: number;
  /** The read path generated for this layout; undefined when code generation is unavailable. */
  readonly readKernel: ReadKernel | undefined;
}

const NUMERIC_READERS: ReadonlySet<AggKind> = new Set<AggKind>(["approxQuantile", "decayedSum"]);

export function layoutOf(node: Pick<AggregateNode, "keys" | "aggregations">): Layout {
  const fields: string[] = [];
  const squares: boolean[] = [];
  const prefixed: boolean[] = [];
  const valueFields: string[] = [];
  const readers: ReaderSlot[] = [];
  const decays: DecaySlot[] = [];
  const windows: WindowSlot[] = [];
  const features: FeatureSlot[] = [];
  const deques: DequeSlot[] = [];
  const numericField = (name: string, square: boolean): number => {
    let f = fields.findIndex((n, i) => n === name && squares[i] === square);
    if (f < 0) {
      f = fields.length;
      fields.push(name);
      squares.push(square);
      prefixed.push(false);
    }
    return f;
  };
  for (const [name, def] of Object.entries(node.aggregations)) {
    const hop = def.hop ?? 0;
    const gap = def.gap ?? 0;
    let window = windows.findIndex((w) => w.size === def.window && w.hop === hop && w.gap === gap);
    if (window < 0) {
      window = windows.length;
      windows.push({ size: def.window, hop, gap });
    }
    let field = -1;
    let square = -1;
    let deque = -1;
    let reader = -1;
    let code: FeatureCode;
    const kind = def.kind;
    if (VALUE_AGG_KINDS.has(kind) || NUMERIC_READERS.has(kind)) {
      const input = def.field as string;
      if (VALUE_AGG_KINDS.has(kind)) {
        field = valueFields.indexOf(input);
        if (field < 0) {
          field = valueFields.length;
          valueFields.push(input);
        }
      } else {
        field = numericField(input, false);
      }
      let decay = -1;
      if (kind === "decayedSum") {
        const halfLife = def.halfLife ?? 1;
        decay = decays.findIndex((d) => d.field === field && d.halfLife === halfLife);
        if (decay < 0) {
          decay = decays.length;
          decays.push({ field, halfLife });
        }
      }
      reader = readers.length;
      readers.push({ ...paramsOf(def), kind, field, numeric: !VALUE_AGG_KINDS.has(kind), window, decay });
      code = FeatureCode.Window;
    } else {
      if (def.field !== undefined) {
        field = numericField(def.field, false);
        if (kind === "sum" || kind === "avg" || kind === "variance" || kind === "stddev") prefixed[field] = true;
        if (kind === "variance" || kind === "stddev") {
          square = numericField(def.field, true);
          prefixed[square] = true;
        }
      }
      if (kind === "min" || kind === "max") {
        deque = deques.length;
        deques.push({ kind, field, window });
      }
      code =
        kind === "count"
          ? FeatureCode.Count
          : kind === "sum"
            ? FeatureCode.Sum
            : kind === "avg"
              ? FeatureCode.Avg
              : kind === "variance"
                ? FeatureCode.Variance
                : kind === "stddev"
                  ? FeatureCode.Stddev
                  : FeatureCode.Extremum;
    }
    const out = kind === "first" || kind === "last" || kind === "firstK" || kind === "lastK" || kind === "topK" ? "value" : "number";
    features.push({ name, kind, code, field, square, window, deque, reader, out });
  }
  const tileable = windows.length > 0 && windows.every((w) => w.gap === 0 && (w.size === Number.POSITIVE_INFINITY || (w.hop > 0 && w.size % w.hop === 0)));
  const tiled = tileable
    ? {
        hops: [...new Set(windows.filter((w) => w.hop > 0).map((w) => w.hop))],
        lag: Math.max(0, ...readers.filter((r) => r.decay >= 0).map((r) => Math.min(DECAY_HORIZON * (r.halfLife ?? 1), (windows[r.window] as WindowSlot).size))),
        partials: readers.map((r) => (r.decay >= 0 ? undefined : { hop: (windows[r.window] as WindowSlot).hop, algebra: algebraOf(r) })),
      }
    : undefined;
  const basic = readers.length === 0 && !squares.includes(true) && tiled === undefined;
  const shape = { keys: node.keys, fields, squares, prefixed, valueFields, readers, decays, basic, tiled, windows, features, deques, retention: Math.max(...windows.map((w) => w.size)) };
  const sessions = windows.some((w) => w.gap > 0);
  return { ...shape, readKernel: readers.length === 0 && !sessions && tiled === undefined ? compileReadKernel(shape) : undefined };
}

function paramsOf(def: AggregationDef): Omit<AggregationDef, "kind" | "field" | "window"> {
  const { kind: _kind, field: _field, window: _window, hop: _hop, gap: _gap, ...params } = def;
  return params;
}
