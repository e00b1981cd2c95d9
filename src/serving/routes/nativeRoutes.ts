import { z } from "zod";
import type { FeatureService } from "../featureService.js";
import { route, type AnyRoute } from "../route.js";
import { entityBody, atQuery, datasetParams, featureParams, ingestReport, onlineBody, onlineKeyParams, onlineRowsResponse, pushBody, registerBody, tableParams, featureIdParams } from "../schemas.js";
import { featureSpecOf } from "./restRoutes.js";

/** Freshet's own API under /v1: tables, online reads, pushes, stats. */
export function nativeRoutes(service: FeatureService): AnyRoute[] {
  return [
    route({
      method: "GET",
      url: "/v1/tables",
      scope: "read",
      tag: "native",
      summary: "List computed tables, source datasets and views of registered features",
      handler: async () => service.tables(),
    }),
    route({
      method: "GET",
      url: "/v1/tables/:table",
      scope: "read",
      tag: "native",
      summary: "Describe a table or view: keys, features, registry metadata and plan",
      params: tableParams,
      handler: async ({ params }) => service.describe(params.table),
    }),
    route({
      method: "GET",
      url: "/v1/tables/:table/rows",
      scope: "read",
      tag: "native",
      summary: "Every key's current row (ralf's bulk query)",
      params: tableParams,
      response: onlineRowsResponse,
      handler: async ({ params }) => ({ rows: await service.bulk(params.table) }),
    }),
    route({
      method: "GET",
      url: "/v1/online/:table/:key",
      scope: "read",
      tag: "native",
      summary: "One key's features (tables with one key field), as of the store clock or `at`",
      params: onlineKeyParams,
      query: atQuery,
      handler: async ({ params, query }) => (await service.read(params.table, [service.keyRow(params.table, params.key)], query.at))[0],
    }),
    route({
      method: "POST",
      url: "/v1/online/:table",
      scope: "read",
      tag: "native",
      summary: "Features of many keys in one request, as of the store clock or `at`",
      params: tableParams,
      body: onlineBody,
      response: onlineRowsResponse,
      handler: async ({ params, body }) => ({ rows: await service.read(params.table, body.keys, body.at) }),
    }),
    route({
      method: "POST",
      url: "/v1/push/:dataset",
      scope: "write",
      tag: "native",
      summary: "Push rows to a source dataset: they update its tables and join its history",
      params: datasetParams,
      body: pushBody,
      response: ingestReport,
      handler: async ({ params, body }) => service.push(params.dataset, body.rows, body.onError),
    }),
    route({
      method: "DELETE",
      url: "/v1/tables/:table",
      scope: "admin",
      tag: "native",
      summary: "Delete a table's registry record (refused while the running definitions apply it)",
      params: tableParams,
      handler: async ({ params }) => service.deleteTableRecord(params.table),
    }),
    route({
      method: "GET",
      url: "/v1/entities",
      scope: "read",
      tag: "native",
      summary: "Registered entities",
      handler: async () => ({ entities: await service.registry.listEntities() }),
    }),
    route({
      method: "POST",
      url: "/v1/entities",
      scope: "admin",
      tag: "native",
      summary: "Register an entity (409 when its key type changes and `version` is not higher)",
      body: entityBody,
      status: 201,
      handler: async ({ body }) => service.registry.registerEntity(stripUndefined(body)),
    }),
    route({
      method: "GET",
      url: "/v1/features",
      scope: "read",
      tag: "native",
      summary: "Registered features",
      handler: async () => ({ features: service.features.all() }),
    }),
    route({
      method: "POST",
      url: "/v1/features",
      scope: "admin",
      tag: "native",
      summary: "Register a feature (409 when it exists and `version` is not higher)",
      body: registerBody,
      status: 201,
      handler: async ({ body }) => service.register(featureSpecOf(body)),
    }),
    route({
      method: "GET",
      url: "/v1/features/:feature",
      scope: "read",
      tag: "native",
      summary: 'Describe a feature (a registered feature\'s name, or "table:feature") with its statistics',
      params: featureParams,
      handler: async ({ params }) => service.describeFeature(params.feature),
    }),
    route({
      method: "DELETE",
      url: "/v1/features/:feature_id",
      scope: "admin",
      tag: "native",
      summary: "Delete a registered feature, its statistics and its served values",
      params: featureIdParams,
      handler: async ({ params }) => service.deleteFeature(params.feature_id),
    }),
    route({
      method: "GET",
      url: "/v1/stats/features/:feature",
      scope: "read",
      tag: "native",
      summary: 'Statistics of a feature: a registered feature\'s name or "table:feature"',
      params: featureParams,
      handler: async ({ params }) => service.stats(params.feature),
    }),
    route({
      method: "GET",
      url: "/v1/stats",
      scope: "read",
      tag: "native",
      summary: "Per dataset: events accepted, late and invalid, watermark; per table: keys and state size",
      response: z.object({ datasets: z.record(z.string(), z.unknown()), tables: z.record(z.string(), z.unknown()) }),
      handler: async () => ({ ...service.store.stats(), online: service.online.kind, registry: service.registry.kind }),
    }),
  ];
}

/** zod leaves absent optional keys out, but types them `| undefined`; the registry's specs are exact. */
function stripUndefined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
