import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parseDuration } from "../core/duration.js";
import { toEpochMs } from "../core/time.js";
import { DefinitionError } from "../errors.js";
import type { LabelSpec } from "../featureStore/trainingSet.js";

const duration = z.union([z.string(), z.number()]).refine(
  (d) => {
    try {
      parseDuration(d);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a duration: use milliseconds or text like "30s", "15m", "1h", "7d"' },
);
const time = z.union([z.string(), z.number(), z.date()]).refine((v) => toEpochMs(v) !== undefined, { message: "not a timestamp: use ISO 8601 (2015-06-01 or 2015-06-01T12:00:00Z) or epoch milliseconds" });

/** The YAML of `freshet training-set` (Featurizer's feature-label set configs). Paths are relative to the YAML file. */
const configSchema = z
  .object({
    definitions: z.string().min(1).describe("the definitions module (.ts or .js)"),
    entities: z.object({
      path: z.string().min(1).describe("a .csv or .parquet file of entity rows: key fields and a timestamp"),
      timestamp: z.string().min(1).default("ts"),
    }),
    start: time.optional().describe("only entity rows at or after this time"),
    end: time.optional().describe("only entity rows before this time"),
    features: z.array(z.string().regex(/^[^:]+:[^:]+$/, 'must be "table:feature" or "table:*"')).min(1),
    max_age: z.record(z.string(), duration).optional(),
    label: z.union([z.object({ feature: z.string().regex(/^[^:]+:[^:]+$/, 'must be "table:feature"'), lookahead: duration, as: z.string().optional() }).strict(), z.object({ column: z.string().min(1), as: z.string().optional() }).strict()]).optional(),
    statuses: z.boolean().default(false),
  })
  .strict();

export interface TrainingSetConfig {
  readonly definitions: string;
  readonly entitiesPath: string;
  readonly timestamp: string;
  readonly start: number | undefined;
  readonly end: number | undefined;
  readonly features: readonly string[];
  /** Milliseconds per "table" or "table:feature". */
  readonly maxAge: Readonly<Record<string, number>>;
  readonly labels: readonly LabelSpec[];
  readonly statuses: boolean;
}

/** Reads and checks a training-set YAML; every problem names its place in the file. */
export async function loadTrainingSetConfig(path: string): Promise<TrainingSetConfig> {
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(path, "utf8"));
  } catch (cause) {
    throw new DefinitionError(`cannot read the training-set config ${path}: ${(cause as Error).message}`, { file: path });
  }
  const r = configSchema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "(top)"}: ${i.message}`).join("; ");
    const first = r.error.issues[0];
    throw new DefinitionError(`training-set config ${path}: ${problems}`, { file: path, ...(first !== undefined && first.path.length > 0 ? { field: first.path.join(".") } : {}) });
  }
  const c = r.data;
  const base = dirname(resolve(path));
  const label = c.label;
  return {
    definitions: resolve(base, c.definitions),
    entitiesPath: resolve(base, c.entities.path),
    timestamp: c.entities.timestamp,
    start: c.start === undefined ? undefined : toEpochMs(c.start),
    end: c.end === undefined ? undefined : toEpochMs(c.end),
    features: c.features,
    maxAge: Object.fromEntries(Object.entries(c.max_age ?? {}).map(([k, d]) => [k, parseDuration(d)])),
    labels:
      label === undefined
        ? []
        : "feature" in label
          ? [{ feature: label.feature, lookahead: parseDuration(label.lookahead), ...(label.as === undefined ? {} : { as: label.as }) }]
          : [{ column: label.column, ...(label.as === undefined ? {} : { as: label.as }) }],
    statuses: c.statuses,
  };
}
