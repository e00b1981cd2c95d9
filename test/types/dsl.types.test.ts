/**
 * Type-level tests: `npm test` type-checks this file first, so a wrong type
 * inference or a `@ts-expect-error` that no longer errors fails the run.
 * The runtime assertions check the same definitions' behaviour. Aggregation
 * and read types are checked on the definitions the demo ships.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import { airportDelays, flights as demoFlights } from "../../src/cli/flightsDemo.js";
import { count, dataset, FeatureStore, sum, t, type InferRow, type TableRow } from "../../src/index.js";

// The demo's schema plus an optional field, for row-type inference.
const flights = dataset("flights", { ...demoFlights.schema, tail: t.string().optional() }, { timestamp: "date" });

describe("types inferred from the schema", () => {
  it("row types", () => {
    expectTypeOf<InferRow<typeof flights>>().toEqualTypeOf<{
      origin: string;
      destination: string;
      delay: number;
      distance: number;
      date: number;
      tail: string | null;
    }>();
    const withSpeed = flights.assign("speed", t.float(), (f) => f.distance / 60);
    expectTypeOf<InferRow<typeof withSpeed>>().toHaveProperty("speed").toEqualTypeOf<number>();
    const slim = flights.select("origin", "delay");
    expectTypeOf<InferRow<typeof slim>>().toEqualTypeOf<{ origin: string; delay: number }>();
    const dropped = flights.drop("tail", "destination");
    expectTypeOf<InferRow<typeof dropped>>().not.toHaveProperty("tail");
    const mapped = flights.map((f) => ({ route: `${f.origin}-${f.destination}`, late: f.delay > 15 }));
    expectTypeOf<InferRow<typeof mapped>>().toEqualTypeOf<{ route: string; late: boolean }>();
    expect(slim.node.kind).toBe("select");
  });

  it("aggregation results are typed", () => {
    expectTypeOf<TableRow<typeof airportDelays>>().toEqualTypeOf<
      { origin: string } & {
        flights_1h: number;
        delay_sum_1d: number;
        delay_avg_7d: number | null;
        delay_max_1d: number | null;
        delay_min_1d: number | null;
      }
    >();
  });

  it("store reads are typed by the table", async () => {
    const store = await FeatureStore.open();
    await store.apply([demoFlights, airportDelays]);
    const online = await store.getOnline(airportDelays, [{ origin: "SFO" }]);
    expectTypeOf(online[0]).toEqualTypeOf<TableRow<typeof airportDelays> | undefined>();
    const hist = await store.getHistorical(airportDelays, [{ origin: "SFO", ts: new Date(0) }]);
    expectTypeOf(hist[0]?.delay_avg_7d).toEqualTypeOf<number | null | undefined>();
    expect(online).toEqual([{ origin: "SFO", flights_1h: 0, delay_sum_1d: 0, delay_avg_7d: null, delay_max_1d: null, delay_min_1d: null }]);
    await store.close();
  });

  it("wrong names fail to compile", () => {
    const wrong = () => {
      // @ts-expect-error: "delayy" is not a field of flights
      flights.groupBy("origin").aggregate({ x: sum("delayy", { window: "1h" }) });
      // @ts-expect-error: "origin" is a string field, sum needs a number
      flights.groupBy("origin").aggregate({ x: sum("origin", { window: "1h" }) });
      // @ts-expect-error: "nope" is not a field to group by
      flights.groupBy("nope");
      // @ts-expect-error: filter sees typed rows; "delai" does not exist
      flights.filter((f) => f.delai > 0);
      // @ts-expect-error: a window is required
      count({});
      // @ts-expect-error: "1 hour" is not a duration
      count({ window: "1 hour" });
      // @ts-expect-error: the timestamp field must be a field of the schema
      dataset("x", { a: t.string() }, { timestamp: "b" });
    };
    // At run time the same mistakes are refused with clear errors too.
    expect(wrong).toThrow(/unknown field "delayy"/);
    expect(() => flights.groupBy("origin").aggregate({ x: sum("origin" as "delay", { window: "1h" }) })).toThrow(/numeric field/);
  });
});
