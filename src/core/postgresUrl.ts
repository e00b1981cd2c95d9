import { RequestError } from "../errors.js";

/** host:port/database of a PostgreSQL URL, without credentials: what error messages name. */
export function postgresAddress(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RequestError("The PostgreSQL URL does not parse; use postgres://user@host:5432/database", { field: "url" });
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, "")) || "(default database)";
  return `${u.hostname || "localhost"}:${u.port || "5432"}/${database}`;
}
