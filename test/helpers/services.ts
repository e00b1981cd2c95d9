import { createConnection } from "node:net";

/**
 * Integration tests use the real services on this machine. When one is not
 * reachable its tests skip with a message naming it, unless
 * FRESHET_REQUIRE_SERVICES=1 (set by .ci/run), where a missing service fails.
 */
export const SERVICES = {
  redis: { name: "Redis", host: "127.0.0.1", port: 6379, url: "redis://127.0.0.1:6379" },
  postgres: { name: "PostgreSQL", host: "127.0.0.1", port: 5432, url: "postgres://postgres@127.0.0.1:5432/test" },
  mysql: { name: "MariaDB/MySQL", host: "127.0.0.1", port: 3306, url: "mysql://root@127.0.0.1:3306/test" },
  nats: { name: "NATS JetStream", host: "127.0.0.1", port: 4222, url: "nats://127.0.0.1:4222" },
} as const;

export type ServiceName = keyof typeof SERVICES;

function reachable(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * True when the service answers. When it does not: throws under
 * FRESHET_REQUIRE_SERVICES=1, otherwise prints which service is missing and
 * returns false (use with `describe.skipIf(!(await serviceAvailable("redis")))`).
 */
export async function serviceAvailable(name: ServiceName): Promise<boolean> {
  const s = SERVICES[name];
  if (await reachable(s.host, s.port)) return true;
  const message = `${s.name} is not reachable on ${s.host}:${s.port}`;
  if (process.env.FRESHET_REQUIRE_SERVICES === "1") throw new Error(`${message}, and FRESHET_REQUIRE_SERVICES=1 requires it`);
  console.warn(`skipping ${s.name} tests: ${message}`);
  return false;
}
