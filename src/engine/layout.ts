import type { AggKind, AggregateNode } from "../plan/nodes.js";
import { FeatureCode } from "./featureCode.js";
import { compileReadKernel, type ReadKernel } from "./readKernel.js";

/** Where one feature reads from inside a key's window state. */
export interface FeatureSlot {
  readonly name: string;
  readonly kind: AggKind;
  readonly code: FeatureCode;
  /** Index into Layout.fields; -1 for count(*). */
  readonly field: number;
  /** Index into Layout.windows. */
  readonly window: number;
  /** Index into Layout.deques for min/max; -1 otherwise. */
  readonly deque: number;
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
  readonly fields: readonly string[];
  /** Whether a field needs prefix sums (sum/avg read it). */
  readonly prefixed: readonly boolean[];
  readonly windows: readonly number[];
  readonly features: readonly FeatureSlot[];
  readonly deques: readonly DequeSlot[];
  /** The longest window: events older than watermark − retention can be evicted. */
  readonly retention: number;
  /** The read path generated for this layout; undefined when code generation is unavailable. */
  readonly readKernel: ReadKernel | undefined;
}

export function layoutOf(node: Pick<AggregateNode, "keys" | "aggregations">): Layout {
  const fields: string[] = [];
  const prefixed: boolean[] = [];
  const windows: number[] = [];
  const features: FeatureSlot[] = [];
  const deques: DequeSlot[] = [];
  for (const [name, def] of Object.entries(node.aggregations)) {
    let field = -1;
    if (def.field !== undefined) {
      field = fields.indexOf(def.field);
      if (field < 0) {
        field = fields.length;
        fields.push(def.field);
        prefixed.push(false);
      }
      if (def.kind === "sum" || def.kind === "avg") prefixed[field] = true;
    }
    let window = windows.indexOf(def.window);
    if (window < 0) {
      window = windows.length;
      windows.push(def.window);
    }
    let deque = -1;
    if (def.kind === "min" || def.kind === "max") {
      deque = deques.length;
      deques.push({ kind: def.kind, field, window });
    }
    const code = def.kind === "count" ? FeatureCode.Count : def.kind === "sum" ? FeatureCode.Sum : def.kind === "avg" ? FeatureCode.Avg : FeatureCode.Extremum;
    features.push({ name, kind: def.kind, code, field, window, deque });
  }
  const shape = { keys: node.keys, fields, prefixed, windows, features, deques, retention: Math.max(...windows) };
  return { ...shape, readKernel: compileReadKernel(shape) };
}
