/**
 * Type-level tests: `npm test` type-checks this file first, so a wrong type
 * inference or a `@ts-expect-error` that no longer errors fails the run.
 * The runtime assertions check the same definitions' behaviour. Aggregation
 * and read types are checked on the definitions the demo ships.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import { airportDelays, flights as demoFlights } from "../../src/cli/flightsDemo.js";
import {
  approxDistinct,
  approxQuantile,
  count,
  dataset,
  decayedSum,
  distinctCount,
  FeatureStore,
  first,
  firstK,
  last,
  lastK,
  stddev,
  sum,
  t,
  topK,
  variance,
  type HistoricalColumns,
  type HistoricalColumnsOptions,
  type InferRow,
  type TableRow,
  type ValueCount,
} from "../../src/index.js";

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
    const renamed = flights.rename({ origin: "from", destination: "to" });
    expectTypeOf<InferRow<typeof renamed>>().toEqualTypeOf<{ from: string; to: string; delay: number; distance: number; date: number; tail: string | null }>();
    const tailed = flights.dropNull("tail");
    expectTypeOf<InferRow<typeof tailed>>().toHaveProperty("tail").toEqualTypeOf<string>();
    const exploded = flights.map((f) => ({ origin: f.origin, legs: [f.delay, f.distance], date: f.date })).explode("legs");
    expectTypeOf<InferRow<typeof exploded>>().toEqualTypeOf<{ origin: string; legs: number; date: number }>();
    const deduped = flights.dedup({ by: ["origin", "date"], window: "1m" });
    expectTypeOf<InferRow<typeof deduped>>().toEqualTypeOf<InferRow<typeof flights>>();
    const wrongOps = () => {
      // @ts-expect-error: "tale" is not a field
      flights.dropNull("tale");
      // @ts-expect-error: "origin" is not a list field
      flights.explode("origin");
      // @ts-expect-error: "nope" is not a field to rename
      flights.rename({ nope: "x" });
    };
    expect(wrongOps).toThrow(/unknown field "tale"/);
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

  it("rich aggregation results are typed from the field they read", async () => {
    const rich = flights
      .groupBy("origin")
      .aggregate({
        sd: stddev("delay", { window: "1d" }),
        var: variance("delay", { window: "1d" }),
        first_dest: first("destination", { window: "1d" }),
        last_delay: last("delay", { window: "1d" }),
        first_tails: firstK("tail", { window: "1d", k: 2 }),
        last_dests: lastK("destination", { window: "1d", k: 3 }),
        dests: distinctCount("destination", { window: "1d" }),
        dests_approx: approxDistinct("destination", { window: "1d" }),
        p95: approxQuantile("delay", { window: "1d", q: 0.95 }),
        top_dests: topK("destination", { window: "1d", k: 3 }),
        decayed: decayedSum("delay", { window: "1d", halfLife: "1h" }),
      })
      .as("rich");
    expectTypeOf<TableRow<typeof rich>>().toEqualTypeOf<
      { origin: string } & {
        sd: number | null;
        var: number | null;
        first_dest: string | null;
        last_delay: number | null;
        first_tails: string[];
        last_dests: string[];
        dests: number;
        dests_approx: number;
        p95: number | null;
        top_dests: Array<ValueCount<string>>;
        decayed: number;
      }
    >();
    const store = await FeatureStore.open();
    await store.apply([flights, rich]);
    const [row] = await store.getOnline(rich, [{ origin: "SFO" }]);
    expect(row).toEqual({
      origin: "SFO",
      sd: null,
      var: null,
      first_dest: null,
      last_delay: null,
      first_tails: [],
      last_dests: [],
      dests: 0,
      dests_approx: 0,
      p95: null,
      top_dests: [],
      decayed: 0,
    });
    await store.close();
    const wrong = () => {
      // @ts-expect-error: stddev needs a numeric field
      flights.groupBy("origin").aggregate({ x: stddev("destination", { window: "1h" }) });
      // @ts-expect-error: "dest" is not a field of flights
      flights.groupBy("origin").aggregate({ x: topK("dest", { window: "1h", k: 2 }) });
      // @ts-expect-error: topK needs k
      topK("destination", { window: "1h" });
      // @ts-expect-error: approxQuantile needs q
      approxQuantile("delay", { window: "1h" });
    };
    expect(wrong).toThrow(/numeric field/);
    expect(() => topK("destination", { window: "1h", k: 0 })).toThrow(/"k" must be a whole number from 1/);
    expect(() => approxQuantile("delay", { window: "1h", q: 1.5 })).toThrow(/"q" must be a number from 0 to 1/);
    expect(() => approxDistinct("delay", { window: "1h", precision: 30 })).toThrow(/"precision"/);
    expect(() => decayedSum("delay", { window: "1h", halfLife: "soon" as "1h" })).toThrow();
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

  it("getHistorical over several tables is typed by all of them, and training-set columns by HistoricalColumns", async () => {
    const byDest = demoFlights.groupBy("destination").aggregate({ arrivals_1d: count({ window: "1d" }) }).as("arrivals");
    const store = await FeatureStore.open();
    await store.apply([demoFlights, airportDelays, byDest]);
    const rows = await store.getHistorical([airportDelays, byDest], [{ origin: "SFO", destination: "LAX", ts: new Date(0) }]);
    expectTypeOf(rows[0]?.arrivals_1d).toEqualTypeOf<number | undefined>();
    expectTypeOf(rows[0]?.delay_avg_7d).toEqualTypeOf<number | null | undefined>();
    expect(rows).toEqual([{ origin: "SFO", destination: "LAX", ts: new Date(0), flights_1h: 0, delay_sum_1d: 0, delay_avg_7d: null, delay_max_1d: null, delay_min_1d: null, arrivals_1d: 0 }]);
    const missingKey = () =>
      // @ts-expect-error: the rows need every table's key fields ("destination" is missing)
      store.getHistorical([airportDelays, byDest], [{ origin: "SFO", ts: 0 }]);
    await expect(missingKey()).rejects.toThrow(/key field "destination" of table "arrivals"/);
    const cols: HistoricalColumns = await store.getHistorical(airportDelays, [{ origin: "SFO", ts: 0 }], { columns: true } satisfies HistoricalColumnsOptions);
    expect([...cols.features.keys()]).toEqual(["flights_1h", "delay_sum_1d", "delay_avg_7d", "delay_max_1d", "delay_min_1d"]);
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
