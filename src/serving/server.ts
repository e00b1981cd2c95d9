import cors from "@fastify/cors";
import Fastify, { LogController, type FastifyError, type FastifyInstance } from "fastify";
import { wallClock, type Clock } from "../core/clock.js";
import { FreshetError, httpStatusFor, PayloadTooLargeError, RequestError } from "../errors.js";
import type { FeatureStore } from "../featureStore/featureStore.js";
import type { Registry } from "../registry/registry.js";
import type { OnlineStore } from "../stores/online/onlineStore.js";
import { Authenticator, type TokenConfig } from "./auth.js";
import { FeatureService } from "./featureService.js";
import { ServerMetrics } from "./metrics.js";
import type { ReadLog } from "./readLog.js";
import { docsPage, openApiDocument } from "./openapi.js";
import { parsePart, route, type AnyRoute } from "./route.js";
import { feastRoutes } from "./routes/feastRoutes.js";
import { nativeRoutes } from "./routes/nativeRoutes.js";
import { restRoutes } from "./routes/restRoutes.js";

export interface ServerOptions {
  readonly store: FeatureStore;
  readonly online: OnlineStore;
  readonly registry: Registry;
  /** Clock for TTLs, metrics and registered features' write times (default: wall clock). */
  readonly clock?: Clock;
  /** Bearer tokens; when given, every route but /health needs one with the route's scope. */
  readonly tokens?: readonly TokenConfig[];
  /** Origins allowed by CORS; none by default (browsers on other origins are refused). */
  readonly corsOrigins?: readonly string[];
  /** Largest request body in bytes (default 1 MiB); larger ones get 413. */
  readonly bodyLimit?: number;
  /** JSON log level (pino), or false for no logs. Default "info". */
  readonly logLevel?: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | false;
  /** Log every request (at info). Off by default: it costs throughput on the hot path. */
  readonly logRequests?: boolean;
  /** Keep statistics of computed tables' features up to date on each push (default true). */
  readonly tableStats?: boolean;
  readonly version?: string;
  /** Logs a sample of served computed-table reads (by key hash) for `freshet skew`. */
  readonly readLog?: ReadLog;
}

export interface FreshetServer {
  readonly app: FastifyInstance;
  readonly service: FeatureService;
  readonly metrics: ServerMetrics;
  /** Starts listening; resolves to the base URL. Port 0 picks a free port. */
  listen(port: number, host?: string): Promise<string>;
  /** Stops listening and waits for requests in flight (the store, online store and registry stay open). */
  close(): Promise<void>;
}

/** The error body every route returns: a code, a message, the field when one is to blame, and `detail` for FastAPI clients. */
function errorBody(code: string, message: string, field?: string): Record<string, unknown> {
  return { error: { code, message, ...(field === undefined ? {} : { field }) }, detail: message };
}

/**
 * The HTTP server: Freshet's /v1 API, Feast's feature-server routes and the
 * Realtime Feature Store's routes over one FeatureService, with OpenAPI
 * docs, Prometheus metrics, JSON logs, bearer-token auth and body limits.
 */
export async function createServer(o: ServerOptions): Promise<FreshetServer> {
  const clock = o.clock ?? wallClock;
  const service = await FeatureService.create({ store: o.store, online: o.online, registry: o.registry, clock, ...(o.readLog === undefined ? {} : { readLog: o.readLog }) });
  const metrics = new ServerMetrics(o.store, clock);
  service.onIngest = (dataset, rows) => metrics.ingested.inc({ dataset }, rows);
  const auth = o.tokens !== undefined && o.tokens.length > 0 ? new Authenticator(o.tokens) : undefined;
  const logLevel = o.logLevel ?? "info";
  const app = Fastify({
    logger: logLevel === false ? false : { level: logLevel },
    logController: new LogController({ disableRequestLogging: o.logRequests !== true }),
    bodyLimit: o.bodyLimit ?? 1024 * 1024,
    // Route parameters are capped by the schemas; this bounds what reaches them.
    routerOptions: { maxParamLength: 1000 },
  });
  if (o.corsOrigins !== undefined && o.corsOrigins.length > 0) await app.register(cors, { origin: [...o.corsOrigins] });

  const version = o.version ?? "0.1.0";
  const routes: AnyRoute[] = [...nativeRoutes(service), ...feastRoutes(service), ...restRoutes(service)];
  const health = async (): Promise<unknown> => ({ status: "ok", online: o.online.kind, registry: o.registry.kind });
  routes.push(
    route({ method: "GET", url: "/health", scope: "public", tag: "ops", summary: "Liveness: 200 while the server runs", handler: health }),
    route({ method: "GET", url: "/v1/health", scope: "public", tag: "ops", summary: "Liveness: 200 while the server runs", handler: health }),
    route({
      method: "GET",
      url: "/metrics",
      scope: "read",
      tag: "ops",
      summary: "Prometheus metrics: request latency per route, rows ingested, events processed, watermark lag, feature freshness",
      handler: async (_input, _req, reply) => {
        void reply.header("content-type", metrics.registry.contentType);
        return metrics.text();
      },
    }),
  );
  const doc = openApiDocument(
    [...routes, route({ method: "GET", url: "/docs", scope: "read", tag: "ops", summary: "This documentation (OpenAPI at /docs/openapi.json)", handler: async () => null })],
    { title: "Freshet", version, auth: auth !== undefined },
  );
  const page = docsPage(doc);
  routes.push(
    route({ method: "GET", url: "/docs", scope: "read", tag: "ops", summary: "API documentation", handler: async (_i, _r, reply) => reply.type("text/html; charset=utf-8").send(page) }),
    route({ method: "GET", url: "/docs/openapi.json", scope: "read", tag: "ops", summary: "OpenAPI document", handler: async () => doc }),
  );

  for (const r of routes) {
    app.route({
      method: r.method,
      url: r.url,
      handler: async (request, reply) => {
        auth?.check(request.headers.authorization, r.scope);
        const input = {
          params: parsePart(r.params, request.params, "params"),
          query: parsePart(r.query, request.query, "query"),
          body: parsePart(r.body, request.body, "body"),
        };
        const result = await r.handler(input, request, reply);
        if (r.status !== undefined) void reply.code(r.status);
        return result;
      },
    });
  }

  // A callback hook: an async one costs a promise per request on the hot path.
  app.addHook("onResponse", (request, reply, done) => {
    metrics.observe(request.method, request.routeOptions.url ?? "unmatched", reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  app.setNotFoundHandler(async (request, reply) => {
    return reply.code(404).send(errorBody("NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}; the routes are listed at /docs`));
  });

  app.setErrorHandler(async (err: FastifyError | FreshetError | Error, request, reply) => {
    if (err instanceof FreshetError) {
      const status = httpStatusFor(err.code);
      if (status >= 500) request.log.error({ err }, "request failed");
      return reply.code(status).send(errorBody(err.code, err.message, err.details.field));
    }
    const fe = err as FastifyError;
    if (fe.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      const e = new PayloadTooLargeError(o.bodyLimit ?? 1024 * 1024);
      return reply.code(413).send(errorBody(e.code, e.message));
    }
    if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
      const e = new RequestError(fe.message.replace(/^Body is not valid JSON but content-type is set to 'application\/json'$/, "request body is not valid JSON"));
      return reply.code(fe.statusCode).send(errorBody(e.code, e.message));
    }
    request.log.error({ err }, "request failed");
    return reply.code(500).send(errorBody("INTERNAL", "the server failed to answer; the error is in its log"));
  });

  if (o.tableStats !== false) {
    for (const table of o.store.list().tables) {
      if (service.table(table).kind !== "table") continue;
      o.store.subscribe([table], (rows) => service.recordTableRows(table, rows));
    }
  }

  return {
    app,
    service,
    metrics,
    async listen(port, host = "127.0.0.1") {
      await app.listen({ port, host });
      const a = app.server.address();
      const p = typeof a === "object" && a !== null ? a.port : port;
      return `http://${host.includes(":") ? `[${host}]` : host}:${p}`;
    },
    async close() {
      await app.close();
      await o.readLog?.close();
    },
  };
}
