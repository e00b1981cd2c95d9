import type { FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import { RequestError } from "../errors.js";

/** Who may call a route: "public" needs no token even when auth is on. */
export type Scope = "public" | "read" | "write" | "admin";

/**
 * One HTTP route as data: the same zod schemas parse the request and
 * generate the OpenAPI document, so the docs cannot drift from what is
 * accepted.
 */
export interface RouteSpec<P = unknown, Q = unknown, B = unknown> {
  readonly method: "GET" | "POST" | "DELETE";
  /** Fastify path syntax (":name" parameters). */
  readonly url: string;
  readonly scope: Scope;
  readonly summary: string;
  readonly tag: "native" | "feast" | "rest" | "ops";
  readonly params?: z.ZodType<P>;
  readonly query?: z.ZodType<Q>;
  readonly body?: z.ZodType<B>;
  /** Response schema, for the docs only. */
  readonly response?: z.ZodType;
  /** Status of a success (default 200). */
  readonly status?: number;
  readonly handler: (input: { params: P; query: Q; body: B }, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

/** A route with its types erased, for the table every route family contributes to. */
export type AnyRoute = RouteSpec<never, never, never>;

/** Declares a route with its input types inferred from its schemas. */
export function route<P = Record<string, never>, Q = Record<string, never>, B = undefined>(spec: RouteSpec<P, Q, B>): AnyRoute {
  return spec as unknown as AnyRoute;
}

/** Parses one part of a request; the first issue becomes a RequestError naming the field's path. */
export function parsePart<T>(schema: z.ZodType<T> | undefined, value: unknown, part: "params" | "query" | "body"): T {
  if (schema === undefined) return undefined as T;
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue === undefined ? "" : issue.path.map(String).join(".");
  const where = part === "body" ? path : path === "" ? part : path;
  const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more problem${r.error.issues.length > 2 ? "s" : ""})` : "";
  const message = issue === undefined ? "invalid request" : `${where === "" ? "request body" : `"${where}"`}: ${issue.message}${more}`;
  return rethrow(new RequestError(message, where === "" ? {} : { field: where }));
}

function rethrow(e: Error): never {
  throw e;
}
