/**
 * A seeded, deterministic generator of synthetic events, for demos, benchmarks
 * and tests. Everything comes from one small PRNG seeded by `seed`; nothing
 * reads the clock or Math.random, so the same options give the same rows on
 * every run and every machine.
 */
import { mulberry32 } from "../../core/random.js";
import { toEpochMs } from "../../core/time.js";
import { DefinitionError } from "../../errors.js";
import type { RowSource } from "../rowSource.js";

/** How to fill an extra field. Draws are uniform. */
export type GeneratedField =
  /** A float in [min, max); default [0, 1). */
  | { readonly kind: "float"; readonly min?: number; readonly max?: number }
  /** An integer in [min, max], both ends included. */
  | { readonly kind: "int"; readonly min: number; readonly max: number }
  /** One of the given values. */
  | { readonly kind: "choice"; readonly values: readonly unknown[] }
  /** true with the given probability; default 0.5. */
  | { readonly kind: "bool"; readonly probability?: number };

export interface GeneratorSourceOptions {
  readonly seed: number;
  /** Number of rows. */
  readonly count: number;
  /** Number of distinct keys, "k0" .. "k<keys-1>", each row's chosen uniformly. */
  readonly keys: number;
  /** Event time of the first row: a Date or epoch milliseconds. */
  readonly start: Date | number;
  /** Average event rate; gaps are exponential (Poisson arrivals). Default 1000. */
  readonly eventsPerSecond?: number;
  /**
   * Moves each row's ts back by a uniform 0..disorder ms, so rows arrive out of
   * order. No row is more than `disorder` ms older than the newest ts before
   * it, so a dataset with lateness >= disorder sees no late rows. Default 0.
   */
  readonly disorder?: number;
  /** Extra fields after key, ts and value, filled in this order. */
  readonly fields?: Readonly<Record<string, GeneratedField>>;
  /** Rows per batch; default 65,536. */
  readonly batchSize?: number;
}

const DEFAULT_BATCH = 65_536;
const DEFAULT_RATE = 1000;
/** `value` is uniform in [0, VALUE_SCALE). */
const VALUE_SCALE = 100;

/**
 * Rows `{ key: "k<n>", ts: <epoch ms>, value: <float>, ...fields }`. Without
 * `disorder`, ts never decreases. Each call to `batches()` starts again from
 * the seed and yields the same rows.
 */
export function generatorSource(options: GeneratorSourceOptions): RowSource {
  const { seed, count, keys } = options;
  checkInteger("count", count, 0);
  checkInteger("keys", keys, 1);
  if (!Number.isFinite(seed)) throw new DefinitionError(`generatorSource: seed must be a finite number, got ${seed}`);
  const start = toEpochMs(options.start);
  if (start === undefined) throw new DefinitionError("generatorSource: start must be a valid Date or epoch milliseconds");
  const rate = options.eventsPerSecond ?? DEFAULT_RATE;
  if (!Number.isFinite(rate) || rate <= 0) throw new DefinitionError(`generatorSource: eventsPerSecond must be a positive number, got ${rate}`);
  const disorder = options.disorder ?? 0;
  checkInteger("disorder", disorder, 0);
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  checkInteger("batchSize", batchSize, 1);
  const extras = Object.entries(options.fields ?? {}).map(([name, spec]) => [name, fieldDrawer(name, spec)] as const);
  const meanGapMs = 1000 / rate;

  return {
    kind: "generator",
    description: `generator(seed=${seed}, count=${count}, keys=${keys})`,
    text: false,
    size: count,
    async *batches() {
      const random = mulberry32(seed);
      // Arrival time as a float, so fractional gaps add up to the right rate.
      let clock = start;
      for (let done = 0; done < count; ) {
        const n = Math.min(batchSize, count - done);
        const batch = new Array<unknown>(n);
        for (let b = 0; b < n; b++) {
          // First row at `start`; later rows after an exponential gap.
          // 1 - random() is in (0, 1], so the log is finite.
          if (done + b > 0) clock += -Math.log(1 - random()) * meanGapMs;
          // Draw order is fixed (gap, key, jitter, value, fields) so rows are reproducible.
          const key = `k${Math.floor(random() * keys)}`;
          const jitter = disorder > 0 ? Math.floor(random() * (disorder + 1)) : 0;
          const row: Record<string, unknown> = { key, ts: Math.floor(clock) - jitter, value: random() * VALUE_SCALE };
          for (const [name, draw] of extras) row[name] = draw(random);
          batch[b] = row;
        }
        done += n;
        yield batch;
      }
    },
  };
}


type Drawer = (random: () => number) => unknown;

function fieldDrawer(name: string, spec: GeneratedField): Drawer {
  if (name === "key" || name === "ts" || name === "value") {
    throw new DefinitionError(`generatorSource: field "${name}" is always generated; choose another name`);
  }
  const bad = (why: string): DefinitionError => new DefinitionError(`generatorSource: field "${name}": ${why}`);
  switch (spec.kind) {
    case "float": {
      const min = spec.min ?? 0;
      const max = spec.max ?? 1;
      if (!Number.isFinite(min) || !Number.isFinite(max) || max < min) throw bad("min and max must be finite with min <= max");
      return (random) => min + random() * (max - min);
    }
    case "int": {
      const { min, max } = spec;
      if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min) throw bad("min and max must be integers with min <= max");
      return (random) => min + Math.floor(random() * (max - min + 1));
    }
    case "choice": {
      const values = [...spec.values];
      if (values.length === 0) throw bad("values must not be empty");
      return (random) => values[Math.floor(random() * values.length)];
    }
    case "bool": {
      const p = spec.probability ?? 0.5;
      if (!(p >= 0 && p <= 1)) throw bad("probability must be between 0 and 1");
      return (random) => random() < p;
    }
  }
}

function checkInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new DefinitionError(`generatorSource: ${name} must be an integer >= ${min}, got ${value}`);
  }
}

export { mulberry32 };
