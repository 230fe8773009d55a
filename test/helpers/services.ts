/**
 * Redis and PostgreSQL for the distributed tests. Both run on the development machines and in
 * CI; where one is absent the tests are skipped with the reason, except under `CI=true`: there
 * they run (and fail), so CI never passes by skipping them.
 */
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import pg from "pg";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

function redisPing(url: string): Promise<string | undefined> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (reason: string | undefined) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(2000, () => done(`Redis at ${url} did not answer`));
    socket.on("error", (err) => done(`Redis at ${url}: ${err.message}`));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => done(d.toString().startsWith("+PONG") ? undefined : `Redis said ${d}`));
  });
}

async function pgPing(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (err) {
    return `PostgreSQL at ${url}: ${(err as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Whether the services' tests run: always under CI=true; elsewhere when both answer. */
export async function services(need: { redis?: boolean; pg?: boolean } = { redis: true, pg: true }) {
  const reasons = (
    await Promise.all([
      need.redis ? redisPing(REDIS_URL) : undefined,
      need.pg ? pgPing(DATABASE_URL) : undefined,
    ])
  ).filter((r): r is string => r !== undefined);
  const reason = reasons.join("; ") || undefined;
  if (reason && process.env.CI !== "true") console.warn(`skipping distributed tests: ${reason}`);
  return { run: reason === undefined || process.env.CI === "true", reason };
}

/** A schema / queue-prefix name unique to this run. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
}

/** Drops a schema the tests made. */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
