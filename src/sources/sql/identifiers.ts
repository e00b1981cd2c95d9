/** A quoted MySQL/MariaDB identifier: any name is safe, whatever it contains. */
export function mysqlIdent(name: string): string {
  return `\`${name.replace(/`/g, "``")}\``;
}

/** A quoted PostgreSQL identifier: any name is safe, whatever it contains. */
export function postgresIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
