import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../core/random.js";
import type { PolicyDef, ShedDef } from "../../plan/nodes.js";
import { PolicyRuntime } from "./policyRuntime.js";

function policy(shed: ShedDef): PolicyRuntime {
  const def: PolicyDef = { schedule: "key-lifo", queue: 100, error: undefined, shed, budget: { perSecond: undefined, burst: 1, concurrency: undefined } };
  return new PolicyRuntime(def, () => 0);
}

function computeAll(p: PolicyRuntime): unknown[] {
  const out: unknown[] = [];
  for (let u = p.take(); u !== undefined; u = p.take()) {
    out.push(u.input);
    p.computed(u);
  }
  return out;
}

describe("shedding predicates", () => {
  it("never: every input is queued", () => {
    const p = policy({ kind: "never" });
    for (let i = 0; i < 5; i++) p.offer("a", i, i, 0, undefined);
    expect(p.stats(() => ({})).shed).toBe(0);
    expect(computeAll(p)).toEqual([4]);
  });

  it("sample: keeps each input with probability p, the same ones for the same seed", () => {
    const kept = (seed: number): number[] => {
      const p = policy({ kind: "sample", p: 0.25, seed, random: undefined });
      const out: number[] = [];
      for (let i = 0; i < 1_000; i++) {
        p.offer("a", i, i, 0, undefined);
        out.push(...(computeAll(p) as number[]));
      }
      return out;
    };
    const a = kept(7);
    expect(kept(7)).toEqual(a);
    expect(kept(8)).not.toEqual(a);
    expect(a.length).toBeGreaterThan(200);
    expect(a.length).toBeLessThan(300);
    // An injected source of randomness decides alone.
    const draws = [0.1, 0.9, 0.2, 0.3];
    const p = policy({ kind: "sample", p: 0.25, seed: 1, random: () => draws.shift() ?? 1 });
    const out: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      p.offer("a", i, i, 0, undefined);
      out.push(...computeAll(p));
    }
    expect(out).toEqual([0, 2]);
    expect(p.stats(() => ({})).shed).toBe(2);
  });

  it("moved: keeps an input when its value moved by more than the threshold since the last kept one", () => {
    const p = policy({ kind: "moved", threshold: 1, value: (x) => x as number });
    const out: unknown[] = [];
    for (const [i, v] of [10, 10.5, 10.9, 11.2, 11.5, 9, 9.5].entries()) {
      p.offer("a", v, i, 0, v);
      out.push(...computeAll(p));
    }
    // 10 (first), 11.2 (> 1 from 10), 9 (> 1 from 11.2)
    expect(out).toEqual([10, 11.2, 9]);
    const s = p.stats(() => ({}));
    expect([s.shed, s.computed]).toEqual([4, 3]);
    // Shed inputs still count as data the output does not reflect.
    expect(s.keys[0]?.behind).toBe(1);
  });

  it("unqueried: keeps a key's first input, then only inputs of keys read since their last update", () => {
    const p = policy({ kind: "queried" });
    p.offer("a", 1, 1, 0, undefined);
    expect(computeAll(p)).toEqual([1]);
    p.offer("a", 2, 2, 0, undefined);
    expect(computeAll(p)).toEqual([]);
    p.read("a");
    p.offer("a", 3, 3, 0, undefined);
    p.offer("a", 4, 4, 0, undefined); // still read since the last update: merged
    expect(computeAll(p)).toEqual([4]);
    p.offer("a", 5, 5, 0, undefined); // not read since 4 was computed
    expect(computeAll(p)).toEqual([]);
    expect(p.stats(() => ({})).shed).toBe(2);
  });

  it("the sampling PRNG (mulberry32) is uniform enough and repeatable", () => {
    const r = mulberry32(42);
    const xs = Array.from({ length: 10_000 }, () => r());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(Math.abs(xs.reduce((a, x) => a + x, 0) / xs.length - 0.5)).toBeLessThan(0.02);
    expect(mulberry32(42)()).toBe(xs[0]);
  });
});
