import { z } from "zod";
import type { AnyRoute } from "./route.js";

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType): JsonSchema {
  const s = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  delete s.$schema;
  return s;
}

/** Path and query parameters of an object schema, as OpenAPI parameters. */
function parameters(schema: z.ZodType | undefined, where: "path" | "query"): JsonSchema[] {
  if (schema === undefined) return [];
  const s = jsonSchema(schema);
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((s.required ?? []) as string[]);
  return Object.entries(props).map(([name, p]) => ({
    name,
    in: where,
    required: where === "path" || required.has(name),
    ...(typeof p.description === "string" ? { description: p.description } : {}),
    schema: p,
  }));
}

const errorSchema = {
  type: "object",
  properties: {
    error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" }, field: { type: "string" } }, required: ["code", "message"] },
    detail: { type: "string", description: "the message again, where FastAPI clients look for it" },
  },
};

/** The OpenAPI 3.1 document of the routes, from the zod schemas that parse their requests. */
export function openApiDocument(routes: readonly AnyRoute[], info: { title: string; version: string; auth: boolean }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z_]+)/g, "{$1}");
    const op: JsonSchema = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+/g, "_")}`,
      parameters: [...parameters(r.params, "path"), ...parameters(r.query, "query")],
      responses: {
        [String(r.status ?? 200)]: { description: "success", ...(r.response === undefined ? {} : { content: { "application/json": { schema: jsonSchema(r.response) } } }) },
        "4XX": { description: "a rejected request: the body names the code, the problem and the field", content: { "application/json": { schema: errorSchema } } },
      },
      ...(r.body === undefined ? {} : { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(r.body) } } } }),
      ...(info.auth && r.scope !== "public" ? { security: [{ bearer: [r.scope] }], description: `Needs a token with the "${r.scope}" scope.` } : {}),
    };
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: { title: info.title, version: info.version },
    paths,
    components: info.auth ? { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } } : {},
  };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);
}

/** A self-contained page listing every route with its schemas (no scripts, nothing fetched from elsewhere). */
export function docsPage(doc: JsonSchema): string {
  const paths = doc.paths as Record<string, Record<string, JsonSchema>>;
  const sections = Object.entries(paths)
    .flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => {
        const body = (op.requestBody as { content?: { "application/json"?: { schema?: unknown } } } | undefined)?.content?.["application/json"]?.schema;
        const params = (op.parameters as JsonSchema[]).map((p) => `<li><code>${escapeHtml(String(p.name))}</code> (${escapeHtml(String(p.in))}${p.required === true ? ", required" : ""})${typeof p.description === "string" ? ` ${escapeHtml(p.description)}` : ""}</li>`);
        return `<section><h2><span class="m ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h2><p>${escapeHtml(String(op.summary))}</p>${
          params.length > 0 ? `<ul>${params.join("")}</ul>` : ""
        }${body === undefined ? "" : `<details><summary>Request body</summary><pre>${escapeHtml(JSON.stringify(body, null, 2))}</pre></details>`}</section>`;
      }),
    )
    .join("\n");
  const info = doc.info as { title: string; version: string };
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(info.title)} API</title><style>body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}section{border-top:1px solid #ddd;padding:.5rem 0}h2{font-size:1.05rem}.m{display:inline-block;min-width:4.5rem;font-weight:700}.get{color:#06c}.post{color:#080}.delete{color:#c00}pre{background:#f6f6f6;padding:.5rem;overflow:auto}</style></head><body><h1>${escapeHtml(info.title)} ${escapeHtml(info.version)}</h1><p>OpenAPI document: <a href="/docs/openapi.json">/docs/openapi.json</a>. Errors are JSON: <code>{"error": {"code", "message", "field"}, "detail"}</code>.</p>\n${sections}</body></html>`;
}
