import { createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { AuthError, RequestError } from "../errors.js";
import type { Scope } from "./route.js";

export type TokenScope = Exclude<Scope, "public">;

export interface TokenConfig {
  readonly token: string;
  readonly scopes: readonly TokenScope[];
  /** Who holds the token, for logs. */
  readonly name?: string;
}

const tokenFile = z.object({
  tokens: z.array(z.object({ token: z.string().min(16, "tokens must be at least 16 characters"), scopes: z.array(z.enum(["read", "write", "admin"])).min(1), name: z.string().optional() })).min(1),
});

/** Reads tokens from a JSON file: { "tokens": [{ "token": "...", "scopes": ["read"] }] }. */
export async function loadTokenFile(path: string): Promise<TokenConfig[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (cause) {
    throw new RequestError(`cannot read the token file ${path}: ${(cause as Error).message}`, { file: path });
  }
  const r = tokenFile.safeParse(raw);
  if (!r.success) throw new RequestError(`token file ${path}: ${r.error.issues[0]?.path.join(".")}: ${r.error.issues[0]?.message}`, { file: path });
  return r.data.tokens.map((t) => ({ token: t.token, scopes: t.scopes, ...(t.name === undefined ? {} : { name: t.name }) }));
}

/** Parses FRESHET_TOKENS: "token1=read,write;token2=admin". */
export function parseTokenEnv(value: string): TokenConfig[] {
  return value
    .split(";")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((entry, i) => {
      const eq = entry.lastIndexOf("=");
      const token = eq < 0 ? "" : entry.slice(0, eq);
      const scopes = eq < 0 ? [] : entry.slice(eq + 1).split(",").map((x) => x.trim());
      if (token.length < 16 || scopes.length === 0 || !scopes.every((x) => x === "read" || x === "write" || x === "admin")) {
        throw new RequestError(`FRESHET_TOKENS entry ${i + 1} must be "<token of 16+ characters>=read,write,admin"`, { field: "FRESHET_TOKENS" });
      }
      return { token, scopes: scopes as TokenScope[] };
    });
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/**
 * Bearer-token checks. Tokens are compared by their SHA-256 digests in
 * constant time. "admin" grants every scope; "write" and "read" only
 * themselves (a producer's token need not read features).
 */
export class Authenticator {
  private readonly tokens: ReadonlyArray<{ digest: Buffer; scopes: ReadonlySet<TokenScope> }>;

  constructor(tokens: readonly TokenConfig[]) {
    this.tokens = tokens.map((t) => ({ digest: digest(t.token), scopes: new Set(t.scopes) }));
  }

  /** Throws AuthError (401 without a valid token, 403 without the scope). */
  check(header: string | undefined, scope: Scope): void {
    if (scope === "public") return;
    const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m === null) throw new AuthError("UNAUTHORIZED", 'this route needs a bearer token: send "Authorization: Bearer <token>"');
    const d = digest(m[1] as string);
    const match = this.tokens.find((t) => timingSafeEqual(t.digest, d));
    if (match === undefined) throw new AuthError("UNAUTHORIZED", "the bearer token is not valid");
    if (!match.scopes.has("admin") && !match.scopes.has(scope)) throw new AuthError("FORBIDDEN", `this route needs a token with the "${scope}" scope`);
  }
}
