import { z } from "zod";

/** Request schemas of every route: they parse the requests and generate /docs. */

const name = z.string().min(1).max(200);
const timestamp = z.union([z.string().min(1), z.number()]).describe("ISO 8601 text or epoch milliseconds (UTC)");
const keyValue = z.union([z.string(), z.number(), z.boolean()]);
const row = z.record(z.string(), z.unknown());

/** Rows per request: enough for any batch read, small enough that one request cannot hog the process. */
export const MAX_KEYS = 10_000;

export const tableParams = z.object({ table: name });
export const datasetParams = z.object({ dataset: name });
export const onlineKeyParams = z.object({ table: name, key: z.string().min(1).max(1000) });
export const atQuery = z.object({ at: timestamp.optional() });
export const featureParams = z.object({ feature: name });

export const onlineBody = z.object({
  keys: z.array(row).min(1).max(MAX_KEYS).describe("key rows: the table's key fields (and request fields of on-demand features)"),
  at: timestamp.optional().describe("read as of this time instead of the store clock"),
});

export const pushBody = z.object({
  rows: z.array(row).min(1).describe("rows of the dataset's schema; event time in its timestamp field"),
  onError: z.enum(["throw", "dead-letter"]).optional().describe('"throw" (default): one invalid row rejects the push; "dead-letter": invalid rows are kept aside'),
});

export const onlineRowsResponse = z.object({ rows: z.array(row) });
export const ingestReport = z.object({ read: z.number(), accepted: z.number(), late: z.number(), invalid: z.number() });

export const feastGetOnlineFeaturesBody = z.object({
  features: z.array(z.string().min(1)).min(1).describe('"view:feature" references'),
  entities: z.record(z.string(), z.array(keyValue).min(1).max(MAX_KEYS)).describe("entity key columns: one array of values per key"),
  full_feature_names: z.boolean().optional().describe('name columns "view__feature" instead of "feature"'),
});

export const feastGetOnlineFeaturesResponse = z.object({
  metadata: z.object({ feature_names: z.array(z.string()) }),
  results: z.array(
    z.object({
      values: z.array(z.unknown()),
      statuses: z.array(z.enum(["PRESENT", "NOT_FOUND", "NULL_VALUE", "OUTSIDE_MAX_AGE"])),
      event_timestamps: z.array(z.string()),
    }),
  ),
});

export const feastPushBody = z.object({
  push_source_name: name.describe("a dataset, or a view of registered features"),
  df: z.record(z.string(), z.array(z.unknown())).describe("columns: one array of values per field, all of one length"),
  to: z.enum(["online", "offline", "online_and_offline"]).optional(),
});

/** The seed's data types, plus "bool" and "boolean" both, "string" and "json". */
export const dataType = z.enum(["int", "float", "string", "bool", "boolean", "embedding", "json"]);

export const registerBody = z.object({
  name,
  description: z.string().max(10_000).nullish(),
  data_type: dataType,
  entity: name,
  feature_group: name.nullish(),
  is_nullable: z.boolean().nullish(),
  source: z.string().max(1000).nullish(),
  transformation: z.string().max(10_000).nullish(),
  ttl_seconds: z.number().int().positive().nullish(),
  tags: z.record(z.string(), z.string()).nullish(),
  owner: z.string().max(200).nullish(),
  version: z.number().int().positive().nullish().describe("a version above the stored one replaces the definition"),
});

export const ingestBody = z.object({
  entity_id: z.string().min(1).max(1000),
  features: z.array(z.object({ feature_name: name, value: z.unknown() })).min(1).max(MAX_KEYS),
  event_timestamp: timestamp.optional().describe("event time of the values (default: the write time)"),
});

export const onlineBatchBody = z.object({
  entity_ids: z.array(z.string().min(1).max(1000)).min(1).max(MAX_KEYS),
  feature_names: z.array(name).min(1).max(1000),
});

export const entityParams = z.object({ entity_id: z.string().min(1).max(1000) });
export const entityQuery = z.object({ feature_names: z.string().optional().describe("comma-separated feature names; all with values when omitted") });
export const featureIdParams = z.object({ feature_id: z.coerce.number().int().positive() });

export const entityFeaturesResponse = z.object({ entity_id: z.string(), features: z.record(z.string(), z.unknown()) });
export const messageResponse = z.object({ message: z.string() });

export const entityBody = z.object({
  name,
  keyType: z.enum(["string", "int", "float", "bool"]).describe("type of the entity's ids; changing it needs a higher version"),
  description: z.string().max(10_000).optional(),
  owner: z.string().max(200).optional(),
  tags: z.record(z.string(), z.string()).optional(),
  version: z.number().int().positive().optional(),
});
