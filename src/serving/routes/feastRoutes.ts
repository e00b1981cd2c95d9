import type { FeatureService } from "../featureService.js";
import { route, type AnyRoute } from "../route.js";
import { feastGetOnlineFeaturesBody, feastGetOnlineFeaturesResponse, feastPushBody } from "../schemas.js";
import { RequestError } from "../../errors.js";

/** Feast's missing-timestamp value. */
const EPOCH = "1970-01-01T00:00:00Z";

/** Formatted timestamps by epoch ms: values written together share one, so most lookups hit. Cleared when full. */
const formatted = new Map<number, string>();

function feastTime(ms: number | null): string {
  if (ms === null) return EPOCH;
  let s = formatted.get(ms);
  if (s === undefined) {
    if (formatted.size >= 100_000) formatted.clear();
    s = new Date(ms).toISOString();
    if (s.endsWith(".000Z")) s = `${s.slice(0, -5)}Z`;
    formatted.set(ms, s);
  }
  return s;
}

/** Feast's feature-server routes, so existing Feast HTTP clients work unchanged. */
export function feastRoutes(service: FeatureService): AnyRoute[] {
  return [
    route({
      method: "POST",
      url: "/get-online-features",
      scope: "read",
      tag: "feast",
      summary: "Feast: features of many entities, column-oriented, with statuses and event timestamps",
      body: feastGetOnlineFeaturesBody,
      response: feastGetOnlineFeaturesResponse,
      handler: async ({ body }) => {
        const columns = await service.getOnlineFeatures(body.features, body.entities, body.full_feature_names ?? false);
        return {
          metadata: { feature_names: columns.map((c) => c.name) },
          results: columns.map((c) => ({ values: c.values, statuses: c.statuses, event_timestamps: c.eventTimes.map(feastTime) })),
        };
      },
    }),
    route({
      method: "POST",
      url: "/push",
      scope: "write",
      tag: "feast",
      summary: 'Feast: push a column-oriented frame to a dataset (or a view of registered features); "to" is accepted and history is always kept',
      body: feastPushBody,
      handler: async ({ body }) => {
        const columns = Object.entries(body.df);
        const n = columns[0]?.[1].length ?? 0;
        for (const [name, values] of columns) {
          if (values.length !== n) throw new RequestError(`df column "${name}" has ${values.length} values, "${columns[0]?.[0]}" has ${n}`, { field: `df.${name}` });
        }
        if (n === 0) throw new RequestError("df has no rows", { field: "df" });
        const rows = Array.from({ length: n }, (_, i) => Object.fromEntries(columns.map(([name, values]) => [name, values[i]])));
        if (service.features.hasView(body.push_source_name)) return { ...(await service.writeView(body.push_source_name, rows)), to: body.to ?? "online" };
        return { ...(await service.push(body.push_source_name, rows)), to: body.to ?? "online" };
      },
    }),
  ];
}
