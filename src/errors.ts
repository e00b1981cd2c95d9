/**
 * One error root for everything Freshet throws on purpose. Each subclass has a
 * stable `code`; `httpStatusFor` maps codes to HTTP statuses in one table so the
 * server never guesses.
 */
export type FreshetErrorCode =
  | "INVALID_DEFINITION"
  | "INVALID_DURATION"
  | "SCHEMA_MISMATCH"
  | "INVALID_TIMESTAMP"
  | "UNKNOWN_TABLE"
  | "UNKNOWN_DATASET"
  | "READ_BEFORE_RETENTION"
  | "SOURCE_ERROR"
  | "STORE_CLOSED"
  | "STORAGE_ERROR"
  | "INVALID_REQUEST"
  | "UNKNOWN_FEATURE"
  | "CONFLICT"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "PAYLOAD_TOO_LARGE";

export interface FreshetErrorDetails {
  /** Where the problem is: dataset, file, row number, field, as applicable. */
  readonly dataset?: string;
  readonly file?: string;
  readonly row?: number;
  readonly field?: string;
}

export class FreshetError extends Error {
  readonly code: FreshetErrorCode;
  readonly details: FreshetErrorDetails;

  constructor(code: FreshetErrorCode, message: string, details: FreshetErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** A dataset, pipeline or aggregation definition that cannot run. */
export class DefinitionError extends FreshetError {
  constructor(message: string, details: FreshetErrorDetails = {}) {
    super("INVALID_DEFINITION", message, details);
  }
}

export class DurationError extends FreshetError {
  constructor(input: unknown) {
    super(
      "INVALID_DURATION",
      `Invalid duration ${JSON.stringify(input)}: use a positive number of milliseconds or a string like "30s", "15m", "1h", "7d", "2w".`,
    );
  }
}

/** A row that does not fit its dataset's schema (missing field, wrong type). */
export class SchemaError extends FreshetError {
  constructor(message: string, details: FreshetErrorDetails, options?: { cause?: unknown }) {
    super("SCHEMA_MISMATCH", withWhere(message, details), details, options);
  }
}

/** A timestamp that cannot be read as a UTC instant. Never silently dropped. */
export class TimestampError extends FreshetError {
  constructor(message: string, details: FreshetErrorDetails) {
    super("INVALID_TIMESTAMP", withWhere(message, details), details);
  }
}

export class UnknownTableError extends FreshetError {
  constructor(name: string, known: readonly string[]) {
    super(
      "UNKNOWN_TABLE",
      `Unknown table "${name}". Applied tables: ${known.length > 0 ? known.join(", ") : "(none; call store.apply([...]) first)"}.`,
    );
  }
}

export class UnknownDatasetError extends FreshetError {
  constructor(name: string, known: readonly string[]) {
    super(
      "UNKNOWN_DATASET",
      `Unknown source dataset "${name}". Applied source datasets: ${known.length > 0 ? known.join(", ") : "(none; call store.apply([...]) first)"}.`,
      { dataset: name },
    );
  }
}

/** An online read older than the state the store still keeps. */
export class ReadBeforeRetentionError extends FreshetError {
  constructor(table: string, at: number, oldestExact: number) {
    super(
      "READ_BEFORE_RETENTION",
      `Online read of "${table}" at ${new Date(at).toISOString()} is older than the online state keeps (exact from ${new Date(oldestExact).toISOString()}); use getHistorical for past points in time.`,
    );
  }
}

export class SourceError extends FreshetError {
  constructor(message: string, details: FreshetErrorDetails = {}, options?: { cause?: unknown }) {
    super("SOURCE_ERROR", withWhere(message, details), details, options);
  }
}

export class StoreClosedError extends FreshetError {
  constructor() {
    super("STORE_CLOSED", "The feature store is closed; open it again with FeatureStore.open().");
  }
}

export class StorageError extends FreshetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("STORAGE_ERROR", message, {}, options);
  }
}

/** A request (HTTP body, query or client call) that does not parse; `field` names the path of the bad value. */
export class RequestError extends FreshetError {
  constructor(message: string, details: FreshetErrorDetails = {}) {
    super("INVALID_REQUEST", withWhere(message, details), details);
  }
}

/** A registered feature (or feature view) that does not exist. */
export class UnknownFeatureError extends FreshetError {
  constructor(name: string, details: FreshetErrorDetails = {}) {
    super("UNKNOWN_FEATURE", `Unknown feature ${JSON.stringify(name)}: register it first (POST /register or registry.registerFeature).`, details);
  }
}

/** A registration that clashes with what is stored: a duplicate, or a breaking change without a new version. */
export class ConflictError extends FreshetError {
  constructor(message: string, details: FreshetErrorDetails = {}) {
    super("CONFLICT", message, details);
  }
}

/** A request without a valid bearer token, or whose token lacks the scope a route needs. */
export class AuthError extends FreshetError {
  constructor(code: "UNAUTHORIZED" | "FORBIDDEN", message: string) {
    super(code, message);
  }
}

export class PayloadTooLargeError extends FreshetError {
  constructor(limit: number) {
    super("PAYLOAD_TOO_LARGE", `Request body is larger than the limit of ${limit} bytes; send fewer rows per request or raise --body-limit.`);
  }
}

const HTTP_STATUS: Record<FreshetErrorCode, number> = {
  INVALID_DEFINITION: 400,
  INVALID_DURATION: 400,
  SCHEMA_MISMATCH: 400,
  INVALID_TIMESTAMP: 400,
  UNKNOWN_TABLE: 404,
  UNKNOWN_DATASET: 404,
  READ_BEFORE_RETENTION: 422,
  SOURCE_ERROR: 502,
  STORE_CLOSED: 503,
  STORAGE_ERROR: 500,
  INVALID_REQUEST: 400,
  UNKNOWN_FEATURE: 404,
  CONFLICT: 409,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  PAYLOAD_TOO_LARGE: 413,
};

export function httpStatusFor(code: FreshetErrorCode): number {
  return HTTP_STATUS[code];
}

function withWhere(message: string, d: FreshetErrorDetails): string {
  const parts: string[] = [];
  if (d.dataset !== undefined) parts.push(`dataset "${d.dataset}"`);
  if (d.file !== undefined) parts.push(`file ${d.file}`);
  if (d.row !== undefined) parts.push(`row ${d.row}`);
  if (d.field !== undefined) parts.push(`field "${d.field}"`);
  return parts.length > 0 ? `${message} (${parts.join(", ")})` : message;
}
