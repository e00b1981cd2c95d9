import { Agent } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest, Agent as HttpsAgent } from "node:https";
import type { Row } from "../core/schema.js";
import type { AnyTable, TableKeys, TableRow } from "../dsl/table.js";
import type { SourceDataset } from "../dsl/dataset.js";
import type { InferRow } from "../dsl/dataset.js";
import type { Schema } from "../core/schema.js";
import { FreshetError, type FreshetErrorCode, type FreshetErrorDetails } from "../errors.js";
import type { IngestReport } from "../featureStore/featureStore.js";

export interface ClientOptions {
  /** Bearer token sent with every request. */
  readonly token?: string;
  /** Milliseconds before a request is abandoned (default 10,000). */
  readonly timeoutMs?: number;
  /** Sockets kept open per server (default 16). */
  readonly maxSockets?: number;
}

/** An error answered by the server: its code, message and field, and the HTTP status. */
export class ServerError extends FreshetError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    details: FreshetErrorDetails,
  ) {
    super(code as FreshetErrorCode, `${message} (HTTP ${status})`, details);
  }
}

/** What a Feast-style read returns per feature column. */
export interface FeatureColumn {
  readonly name: string;
  readonly values: unknown[];
  readonly statuses: Array<"PRESENT" | "NOT_FOUND" | "NULL_VALUE" | "OUTSIDE_MAX_AGE">;
  readonly eventTimestamps: string[];
}

type TableRef = string | AnyTable;

/**
 * The TypeScript client of `freshet serve`. Reads are typed by the
 * definitions when you pass the table objects you defined
 * (`client.getOnline(airportDelays, [{ origin: "SFO" }])`); strings work too.
 * Connections are kept alive between requests.
 */
export class FreshetClient {
  private readonly base: URL;
  private readonly agent: Agent;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    this.base = new URL(baseUrl);
    const max = options.maxSockets ?? 16;
    this.agent = this.base.protocol === "https:" ? new HttpsAgent({ keepAlive: true, maxSockets: max }) : new Agent({ keepAlive: true, maxSockets: max });
    this.headers = { accept: "application/json", ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }) };
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Rows of a table for the given keys, as of the server's clock or `at`. */
  async getOnline<T extends AnyTable>(table: T, keys: ReadonlyArray<TableKeys<T>>, options?: { at?: Date | number | string }): Promise<Array<TableRow<T>>>;
  async getOnline(table: string, keys: readonly Row[], options?: { at?: Date | number | string }): Promise<Row[]>;
  async getOnline(table: TableRef, keys: readonly Row[], options: { at?: Date | number | string } = {}): Promise<Row[]> {
    const at = options.at instanceof Date ? options.at.toISOString() : options.at;
    const res = (await this.call("POST", `/v1/online/${enc(nameOf(table))}`, { keys, ...(at === undefined ? {} : { at }) })) as { rows: Row[] };
    return res.rows;
  }

  /** One key's row (ralf's point query): the key value of a single-key table, or an object of key fields. */
  async pointQuery<T extends AnyTable>(table: T, key: TableKeys<T> | TableKeys<T>[keyof TableKeys<T>]): Promise<TableRow<T>>;
  async pointQuery(table: string, key: unknown): Promise<Row>;
  async pointQuery(table: TableRef, key: unknown): Promise<Row> {
    if (typeof key === "object" && key !== null) return (await this.getOnline(nameOf(table), [key as Row]))[0] as Row;
    return (await this.call("GET", `/v1/online/${enc(nameOf(table))}/${enc(String(key))}`)) as Row;
  }

  /** Every key's current row (ralf's bulk query). */
  async bulkQuery<T extends AnyTable>(table: T): Promise<Array<TableRow<T>>>;
  async bulkQuery(table: string): Promise<Row[]>;
  async bulkQuery(table: TableRef): Promise<Row[]> {
    return ((await this.call("GET", `/v1/tables/${enc(nameOf(table))}/rows`)) as { rows: Row[] }).rows;
  }

  /** Pushes rows to a source dataset; all of them apply or, if one is invalid, none (onError "throw"). */
  async push<D extends SourceDataset<string, Schema>>(dataset: D, rows: ReadonlyArray<InferRow<D>>, options?: { onError?: "throw" | "dead-letter" }): Promise<IngestReport>;
  async push(dataset: string, rows: readonly Row[], options?: { onError?: "throw" | "dead-letter" }): Promise<IngestReport>;
  async push(dataset: string | { readonly name: string }, rows: readonly Row[], options: { onError?: "throw" | "dead-letter" } = {}): Promise<IngestReport> {
    const name = typeof dataset === "string" ? dataset : dataset.name;
    return (await this.call("POST", `/v1/push/${enc(name)}`, { rows, ...(options.onError === undefined ? {} : { onError: options.onError }) })) as IngestReport;
  }

  /** Feast-style read of "view:feature" references for entity key columns. */
  async getFeatures(features: readonly string[], entities: Readonly<Record<string, ReadonlyArray<string | number | boolean>>>): Promise<FeatureColumn[]> {
    const res = (await this.call("POST", "/get-online-features", { features, entities })) as {
      metadata: { feature_names: string[] };
      results: Array<{ values: unknown[]; statuses: FeatureColumn["statuses"]; event_timestamps: string[] }>;
    };
    return res.results.map((r, i) => ({ name: res.metadata.feature_names[i] as string, values: r.values, statuses: r.statuses, eventTimestamps: r.event_timestamps }));
  }

  /** Tables, datasets and views the server knows. */
  async tables(): Promise<unknown> {
    return this.call("GET", "/v1/tables");
  }

  async health(): Promise<{ status: string }> {
    return (await this.call("GET", "/health")) as { status: string };
  }

  /** Closes the kept-alive sockets. */
  close(): void {
    this.agent.destroy();
  }

  private call(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<unknown> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const url = new URL(path, this.base);
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          agent: this.agent,
          headers: payload === undefined ? this.headers : { ...this.headers, "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown;
            try {
              parsed = text === "" ? null : JSON.parse(text);
            } catch {
              reject(new ServerError(res.statusCode ?? 0, "INVALID_RESPONSE", `the server answered ${method} ${path} with something that is not JSON: ${text.slice(0, 200)}`, {}));
              return;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(parsed);
            else {
              const e = (parsed as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
              reject(new ServerError(status, e?.code ?? "HTTP_ERROR", e?.message ?? `${method} ${path} failed`, e?.field === undefined ? {} : { field: e.field }));
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${url.href} took longer than ${this.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  }
}

function nameOf(t: TableRef): string {
  return typeof t === "string" ? t : t.name;
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
