import { RequestError } from "../errors.js";

/** host:port/database of a PostgreSQL URL, without credentials: what error messages name. */
export function postgresAddress(url: string): string {
  return databaseAddress(url, { system: "PostgreSQL", port: "5432", example: "postgres://user@host:5432/database", noDatabase: "(default database)" });
}

/** host:port/database of a MySQL/MariaDB URL, without credentials. */
export function mysqlAddress(url: string): string {
  return databaseAddress(url, { system: "MySQL", port: "3306", example: "mysql://user:password@host:3306/database", noDatabase: "(no database)" });
}

function databaseAddress(url: string, o: { system: string; port: string; example: string; noDatabase: string }): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RequestError(`The ${o.system} URL does not parse; use ${o.example}`, { field: "url" });
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, "")) || o.noDatabase;
  return `${u.hostname || "localhost"}:${u.port || o.port}/${database}`;
}
