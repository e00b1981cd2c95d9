/**
 * A private PostgreSQL server with `wal_level = logical`, for the logical
 * replication source's tests. The shared server on 127.0.0.1:5432 runs with
 * wal_level = replica and must not be reconfigured, so each suite starts its
 * own: initdb into a temp folder (trust auth, user postgres), `pg_ctl start`
 * on a free port with wal_level=logical and room for replication slots, the
 * unix socket in the same folder, and a database `test`. `stop()` stops it
 * (pg_ctl stop -m immediate) and removes the folder.
 *
 * initdb refuses to run as root, so when the tests run as root the server
 * runs as the `postgres` system user (runuser), in a folder that user owns.
 *
 * When initdb or pg_ctl is missing the tests skip with a message naming them,
 * unless FRESHET_REQUIRE_SERVICES=1 (CI), where that fails.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { freePort } from "./freePort.js";

const PROGRAMS = ["initdb", "pg_ctl"] as const;

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:PORT/test */
  readonly url: string;
  readonly port: number;
  /** Stops the server (immediate mode) and removes its data directory. Safe twice. */
  stop(): Promise<void>;
}

/** The folder holding initdb and pg_ctl: the newest /usr/lib/postgresql/N/bin that has both, or the PATH's. */
function binFolder(): string | undefined {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const bin = join(root, v, "bin");
    if (PROGRAMS.every((p) => existsSync(join(bin, p)))) return bin;
  }
  const onPath = PROGRAMS.map((p) => spawnSync("sh", ["-c", `command -v ${p}`], { encoding: "utf8" }).stdout.trim());
  const first = onPath[0];
  if (onPath.every((p) => p !== "") && first !== undefined) return first.replace(/\/[^/]+$/, "");
  return undefined;
}

/**
 * True when a private server can be started here. When it cannot: throws under
 * FRESHET_REQUIRE_SERVICES=1, otherwise prints what is missing and returns false.
 */
export function privatePostgresAvailable(): boolean {
  if (binFolder() !== undefined) return true;
  const message = `${PROGRAMS.join(" and ")} not found under /usr/lib/postgresql/<version>/bin or on the PATH (install the postgresql package)`;
  if (process.env.FRESHET_REQUIRE_SERVICES === "1") throw new Error(`private PostgreSQL: ${message}, and FRESHET_REQUIRE_SERVICES=1 requires it`);
  console.warn(`skipping PostgreSQL logical replication tests: ${message}`);
  return false;
}

/** The uid/gid of the `postgres` system user, when this process is root (initdb will not run as root). */
function runAsUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
  const uid = id("-u");
  const gid = id("-g");
  if (!Number.isSafeInteger(uid) || uid <= 0) throw new Error("private PostgreSQL: running as root and there is no `postgres` user to run initdb as");
  return { uid, gid };
}

function run(program: string, args: readonly string[], as: { uid: number; gid: number } | undefined): { status: number | null; output: string } {
  const r = spawnSync(program, args, { encoding: "utf8", timeout: 60_000, ...(as === undefined ? {} : { uid: as.uid, gid: as.gid }), env: { ...process.env, LC_ALL: "C" } });
  return { status: r.status, output: `${r.stdout}${r.stderr}${r.error === undefined ? "" : String(r.error)}` };
}

/** Starts a private PostgreSQL with wal_level=logical; resolves once it accepts connections to database `test`. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binFolder();
  if (bin === undefined) throw new Error("private PostgreSQL: initdb and pg_ctl not found");
  const as = runAsUser();
  const dir = mkdtempSync(join(tmpdir(), "freshet-pg-"));
  // The server's user must be able to reach and own the folder.
  chmodSync(dir, 0o755);
  if (as !== undefined) chownSync(dir, as.uid, as.gid);
  const data = join(dir, "data");
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  const init = run(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"], as);
  if (init.status !== 0) {
    cleanup();
    throw new Error(`initdb failed (${init.status}): ${init.output}`);
  }
  const port = await freePort();
  const options = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${dir}`,
    "-c wal_level=logical",
    "-c max_replication_slots=10",
    "-c max_wal_senders=10",
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
  ].join(" ");
  const start = run(join(bin, "pg_ctl"), ["-D", data, "-l", join(dir, "server.log"), "-o", options, "-w", "-t", "60", "start"], as);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    run(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"], as);
    cleanup();
  };
  if (start.status !== 0) {
    await stop();
    throw new Error(`pg_ctl start failed (${start.status}): ${start.output}`);
  }
  const admin = postgres({ host: "127.0.0.1", port, user: "postgres", database: "postgres", max: 1, onnotice: () => undefined, connect_timeout: 10 });
  try {
    await admin.unsafe("CREATE DATABASE test");
  } catch (err) {
    await admin.end();
    await stop();
    throw err;
  }
  await admin.end();
  return { url: `postgres://postgres@127.0.0.1:${port}/test`, port, stop };
}
