import type { AggKind } from "../../plan/nodes.js";
import type { TimedList } from "./algebra.js";
import { DDSketch, type DDSketchData } from "./ddSketch.js";
import { HyperLogLog } from "./hyperLogLog.js";
import { ValueCounts } from "./valueCounts.js";

/**
 * Partial states of the algebras that tiles keep (see algebra.ts), as plain
 * data for the state codec, and their sizes for state statistics. Values
 * stay as they came (strings, numbers, booleans), like the events' own
 * values in the codec; Maps become parallel arrays, because a store's
 * encoding may turn a Map's keys into strings.
 */
export type EncodedPartial =
  | { readonly list: { readonly t: readonly number[]; readonly v: readonly unknown[] } }
  | { readonly counts: { readonly v: readonly unknown[]; readonly c: readonly number[] } }
  | { readonly hll: { readonly p: number; readonly r: Buffer } }
  | { readonly dd: DDSketchData };

export function encodePartial(kind: AggKind, s: unknown): EncodedPartial {
  switch (kind) {
    case "first":
    case "last":
    case "firstK":
    case "lastK": {
      const items = (s as TimedList).items;
      return { list: { t: items.map((x) => x.t), v: items.map((x) => x.v) } };
    }
    case "distinctCount":
    case "topK": {
      const counts = (s as ValueCounts).counts;
      return { counts: { v: [...counts.keys()], c: [...counts.values()] } };
    }
    case "approxDistinct": {
      const h = s as HyperLogLog;
      return { hll: { p: h.p, r: Buffer.from(h.registers) } };
    }
    case "approxQuantile":
      return { dd: (s as DDSketch).toData() };
    default:
      throw new Error(`no tile state for ${kind}`);
  }
}

export function decodePartial(e: EncodedPartial): unknown {
  if ("list" in e) return { items: e.list.t.map((t, i) => ({ t, v: e.list.v[i] ?? null })) } satisfies TimedList;
  if ("counts" in e) {
    const s = new ValueCounts();
    e.counts.v.forEach((v, i) => s.add(v, e.counts.c[i] ?? 0));
    return s;
  }
  if ("hll" in e) {
    const h = new HyperLogLog(e.hll.p);
    h.registers.set(e.hll.r);
    return h;
  }
  return DDSketch.fromData(e.dd);
}

/** Approximate bytes of a partial state: 8 per number or value reference, the registers of a sketch. */
export function partialBytes(s: unknown): number {
  if (s instanceof ValueCounts) return 16 * s.counts.size;
  if (s instanceof HyperLogLog) return s.registers.byteLength;
  if (s instanceof DDSketch) return 16 * s.buckets + 16;
  return 16 * (s as TimedList).items.length;
}
