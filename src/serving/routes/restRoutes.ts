import type { FeatureRecord, FeatureSpec, FeatureStats } from "../../registry/registry.js";
import type { FeatureService } from "../featureService.js";
import { route, type AnyRoute } from "../route.js";
import { entityFeaturesResponse, entityParams, entityQuery, featureIdParams, ingestBody, messageResponse, onlineBatchBody, registerBody } from "../schemas.js";
import type { z } from "zod";

/** A registration body (the seed's FeatureDefinition) as a registry spec. */
export function featureSpecOf(b: z.infer<typeof registerBody>): FeatureSpec {
  const opt = <K extends string, V>(key: K, v: V | null | undefined): { [P in K]?: V } => (v === null || v === undefined ? {} : ({ [key]: v } as { [P in K]?: V }));
  return {
    name: b.name,
    entity: b.entity,
    dataType: b.data_type === "boolean" ? "bool" : b.data_type,
    ...opt("featureGroup", b.feature_group),
    ...opt("description", b.description),
    ...opt("isNullable", b.is_nullable),
    ...opt("source", b.source),
    ...opt("transformation", b.transformation),
    ...opt("ttlSeconds", b.ttl_seconds),
    ...opt("tags", b.tags),
    ...opt("owner", b.owner),
    ...opt("version", b.version),
  };
}

/** A feature as the seed shows it (snake_case), with its statistics in the numeric columns. */
function seedFeature(f: FeatureRecord, s: FeatureStats | undefined): Record<string, unknown> {
  return {
    id: f.id,
    name: f.name,
    description: f.description ?? null,
    data_type: f.dataType,
    entity: f.entity,
    feature_group: f.featureGroup ?? null,
    is_nullable: f.isNullable ?? true,
    source: f.source ?? null,
    transformation: f.transformation ?? null,
    min_value: s?.min ?? null,
    max_value: s?.max ?? null,
    mean_value: s?.mean ?? null,
    std_dev: s?.stddev ?? null,
    ttl_seconds: f.ttlSeconds ?? null,
    tags: f.tags ?? null,
    owner: f.owner ?? null,
    version: f.version,
    created_at: f.createdAt.toISOString(),
    updated_at: f.updatedAt?.toISOString() ?? null,
  };
}

/**
 * The Realtime Feature Store seed's routes, same paths and JSON shapes, with
 * its faults fixed: a duplicate registration is a 409; delete removes the
 * served values too; a batch read is one store round trip per entity type;
 * an ingest applies fully or not at all.
 */
export function restRoutes(service: FeatureService): AnyRoute[] {
  return [
    route({
      method: "POST",
      url: "/register",
      scope: "admin",
      tag: "rest",
      summary: "Register a feature (409 if it exists and `version` is not higher)",
      body: registerBody,
      response: messageResponse,
      handler: async ({ body }) => {
        const f = await service.register(featureSpecOf(body));
        return { message: "Feature registered", id: f.id, version: f.version };
      },
    }),
    route({
      method: "GET",
      url: "/features",
      scope: "read",
      tag: "rest",
      summary: "All registered features, with their statistics",
      handler: async () => ({ features: await Promise.all(service.features.all().map(async (f) => seedFeature(f, await service.registry.stats(`${f.view}:${f.name}`)))) }),
    }),
    route({
      method: "DELETE",
      url: "/features/:feature_id",
      scope: "admin",
      tag: "rest",
      summary: "Delete a feature, its statistics and its served values",
      params: featureIdParams,
      response: messageResponse,
      handler: async ({ params }) => {
        const f = await service.deleteFeature(params.feature_id);
        return { message: `Feature '${f.name}' deleted successfully` };
      },
    }),
    route({
      method: "POST",
      url: "/features/ingest",
      scope: "write",
      tag: "rest",
      summary: "Write feature values of one entity: every value is checked first, then all are written at once",
      body: ingestBody,
      handler: async ({ body }) => ({
        message: "Features ingested successfully",
        entity_id: body.entity_id,
        features: await service.ingest(body.entity_id, body.features, body.event_timestamp),
      }),
    }),
    route({
      method: "POST",
      url: "/features/online",
      scope: "read",
      tag: "rest",
      summary: "Features of many entities (one store round trip per entity type)",
      body: onlineBatchBody,
      handler: async ({ body }) => {
        const rows = await service.readEntities(body.entity_ids, body.feature_names);
        return rows.map((features, i) => ({ entity_id: body.entity_ids[i], features }));
      },
    }),
    route({
      method: "GET",
      url: "/features/online/:entity_id",
      scope: "read",
      tag: "rest",
      summary: "Features of one entity: the named ones, or all it has values for",
      params: entityParams,
      query: entityQuery,
      response: entityFeaturesResponse,
      handler: async ({ params, query }) => {
        const names = query.feature_names?.split(",").map((s) => s.trim()).filter((s) => s !== "");
        return { entity_id: params.entity_id, features: await service.readEntity(params.entity_id, names) };
      },
    }),
  ];
}
