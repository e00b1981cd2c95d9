import type { AggKind } from "../plan/nodes.js";

/**
 * An empty window's value: counts, sums and distinct counts 0; lists [];
 * everything else null (NaN in numeric columns).
 */
export function emptyValue(kind: AggKind): unknown {
  switch (kind) {
    case "count":
    case "sum":
    case "distinctCount":
    case "approxDistinct":
    case "decayedSum":
      return 0;
    case "firstK":
    case "lastK":
    case "topK":
      return [];
    case "first":
    case "last":
      return null;
    default:
      return Number.NaN;
  }
}
