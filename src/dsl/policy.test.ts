import { describe, expect, expectTypeOf, it } from "vitest";
import { t } from "../core/schema.js";
import { DefinitionError } from "../errors.js";
import { dataset } from "./dataset.js";

const flights = dataset("flights", { origin: t.string(), delay: t.float(), ts: t.timestamp() }, { timestamp: "ts" });
const forecast = (w: Array<{ delay: number }>): { forecast: number } => ({ forecast: w.reduce((a, r) => a + r.delay, 0) / w.length });
const windowed = () => flights.groupBy("origin").window({ size: 4, slide: 2 }).apply(forecast, { output: { forecast: t.float() } });

describe(".policy()", () => {
  it("types the error function from the operator's input and output, and names the table after it", () => {
    const table = windowed()
      .policy({
        schedule: "cumulative-error",
        error: (current, pending) => {
          expectTypeOf(current).toEqualTypeOf<{ forecast: number } | null>();
          expectTypeOf(pending).toEqualTypeOf<Array<{ origin: string; delay: number; ts: number }>>();
          return current === null ? 1 : Math.abs((pending.at(-1)?.delay ?? 0) - current.forecast);
        },
        shed: { moved: 5, value: (w) => w.at(-1)?.delay ?? 0 },
        budget: { perSecond: 200 },
        queue: 500,
      })
      .as("delay_forecast");
    expect(table.root.policy).toMatchObject({ schedule: "cumulative-error", queue: 500, shed: { kind: "moved", threshold: 5 }, budget: { perSecond: 200, burst: 200, concurrency: undefined } });
    // Per record: the pending input is the record.
    flights
      .groupBy("origin")
      .apply((r) => ({ d: r.delay }), { output: { d: t.float() } })
      .policy({ schedule: "cumulative-error", error: (cur, r) => Math.abs(r.delay - (cur?.d ?? 0)) });
  });

  it("is immutable: the definition it is called on keeps no policy", () => {
    const base = windowed();
    const policed = base.policy({ schedule: "fifo" });
    expect(base.node.policy).toBeUndefined();
    expect(policed.node.policy?.schedule).toBe("fifo");
    expect(policed.node.policy?.queue).toBe(10_000);
    expect(policed.node.policy?.shed).toEqual({ kind: "never" });
    // One policy per table: the result can only be named.
    expectTypeOf(policed).not.toHaveProperty("policy");
  });

  it("refuses wrong chains at compile time", () => {
    // @ts-expect-error cumulative-error needs an error function
    expect(() => windowed().policy({ schedule: "cumulative-error" })).toThrow(DefinitionError);
    // @ts-expect-error the error function belongs to cumulative-error only
    expect(() => windowed().policy({ schedule: "fifo", error: () => 1 })).toThrow(/only used by schedule "cumulative-error"/);
    // @ts-expect-error unknown schedule
    expect(() => windowed().policy({ schedule: "random" })).toThrow(/unknown schedule "random"/);
  });

  it("checks numbers at definition time, with messages that say what to pass", () => {
    const bad: Array<[() => unknown, RegExp]> = [
      [() => windowed().policy({ schedule: "fifo", queue: 0 }), /"queue" must be a whole number >= 1 or Infinity, got 0/],
      [() => windowed().policy({ schedule: "fifo", shed: { sample: 1.5 } }), /probability of keeping an input, in \(0, 1\]/],
      [() => windowed().policy({ schedule: "fifo", shed: { moved: -1, value: () => 0 } }), /threshold >= 0/],
      [() => windowed().policy({ schedule: "fifo", budget: { perSecond: 0 } }), /perSecond must be a number > 0/],
      [() => windowed().policy({ schedule: "fifo", budget: { concurrency: 1.5 } }), /concurrency must be a whole number >= 1/],
      [() => windowed().policy({ schedule: "fifo", budget: { perSecond: 5, burst: 0.5 } }), /burst must be a number >= 1/],
    ];
    for (const [f, message] of bad) expect(f).toThrow(message);
    expect(windowed().policy({ schedule: "lifo", queue: Number.POSITIVE_INFINITY, shed: "unqueried", budget: { concurrency: 2 } }).node.policy).toMatchObject({
      queue: Number.POSITIVE_INFINITY,
      shed: { kind: "queried" },
      budget: { perSecond: undefined, concurrency: 2 },
    });
  });
});
