// PostgreSQL-only behaviour of PgThreadStore (the shared contract is test/persistence/store-contract.ts).
import { spawn } from "node:child_process";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { DATABASE_URL, dropSchema, services, uniqueName } from "../../../test/helpers/services.ts";
import { isTaifengError } from "../../errors.ts";
import { PgThreadStore } from "./pg-store.ts";
import { MIGRATIONS, migrate, SCHEMA_LATEST } from "./schema.ts";

const svc = await services({ pg: true });
const schemas: string[] = [];
const stores: PgThreadStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close().catch(() => {});
  for (const s of schemas) await dropSchema(s);
});

function fresh(schema = uniqueName("pgstore")): PgThreadStore {
  if (!schemas.includes(schema)) schemas.push(schema);
  const store = new PgThreadStore({ connectionString: DATABASE_URL, schema, maxConnections: 4 });
  stores.push(store);
  return store;
}

const meta = (threadId: string) => ({ schemaVersion: 1, threadId, createdAt: 1, cwd: "/w" });

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    return isTaifengError(err) ? `${err.code}: ${err.message}` : String(err);
  }
}

describe.runIf(svc.run)("PgThreadStore on PostgreSQL", () => {
  it("migrates a new schema once, even when many stores start at the same time", async () => {
    const schema = uniqueName("migr");
    schemas.push(schema);
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 6 });
    try {
      const applied = await Promise.all([1, 2, 3, 4].map(() => migrate(pool, schema)));
      expect(applied.flat().sort()).toEqual(MIGRATIONS.map((m) => m.version));
      const { rows } = await pool.query(`SELECT version FROM "${schema}".migrations ORDER BY version`);
      expect(rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_LATEST }, (_, i) => i + 1));
      // From version 1 to the latest: a schema left at 1 is upgraded in place, its threads kept.
      const old = uniqueName("migr_old");
      schemas.push(old);
      expect(await migrate(pool, old, MIGRATIONS.slice(0, 1))).toEqual([1]);
      await pool.query(
        `INSERT INTO "${old}".threads VALUES ('kept', 1, 1, null, null, 1, '{"threadId":"kept"}'); INSERT INTO "${old}".lines VALUES ('kept', 0, 1, '{}')`,
      );
      expect(await migrate(pool, old)).toEqual(MIGRATIONS.slice(1).map((m) => m.version));
      const { rowCount } = await pool.query(`SELECT 1 FROM "${old}".threads WHERE thread_id = 'kept'`);
      expect(rowCount).toBe(1);
      // A database migrated by a newer Taifeng is refused, not damaged.
      await pool.query(`INSERT INTO "${schema}".migrations (version, name) VALUES (999, 'future')`);
      expect(await code(migrate(pool, schema))).toBe(
        `store_error: PostgreSQL schema ${schema} is at version 999, newer than this Taifeng knows (${SCHEMA_LATEST}); upgrade Taifeng to use it`,
      );
    } finally {
      await pool.end();
    }
  });

  it("refuses bad schema names and thread ids with what and where", async () => {
    expect(() => new PgThreadStore({ connectionString: DATABASE_URL, schema: "Bad-Name" })).toThrow(
      /invalid PostgreSQL schema name "Bad-Name"/,
    );
    const store = fresh();
    expect(await code(store.create(meta("../x")))).toMatch(/^store_error: invalid thread id "..\/x"/);
  });

  it("keeps connections for queries: a writer beyond maxWriters waits for a free one, then fails clearly", async () => {
    const schema = uniqueName("pgstore");
    schemas.push(schema);
    const store = new PgThreadStore({
      connectionString: DATABASE_URL,
      schema,
      maxConnections: 3,
      writerWaitMs: 200,
    });
    stores.push(store);
    expect(store.maxWriters).toBe(1);
    const held = await store.create(meta("a"));
    expect(await code(store.create(meta("b")))).toBe(
      "store_error: cannot open thread b: all 1 writer connections of this PostgreSQL store stayed in use for 200 ms (each open thread holds one); close threads or raise maxConnections / maxWriters",
    );
    expect((await store.list()).map((r) => r.threadId)).toEqual(["a"]); // reads still have connections
    const waiting = store.create(meta("c")); // waits for a's connection
    await held.close();
    await (await waiting).close();
    expect((await store.list()).map((r) => r.threadId).sort()).toEqual(["a", "c"]);
  });

  it("a writer whose session was killed cannot append: the lease is lost and the lines stay queued", async () => {
    const store = fresh();
    const writer = await store.create(meta("t1"));
    writer.append({ ts: 2, type: "turn_context", payload: { turnId: "a" } });
    await writer.flush();
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid() AND objid = (hashtextextended($1, 0) & 4294967295)::oid",
        [`${store.schema}/t1`],
      );
    } finally {
      await admin.end();
    }
    // Another writer can take the thread at once; the old one can never write again.
    const other = fresh(store.schema);
    const opened = await other.open("t1");
    writer.append({ ts: 3, type: "turn_context", payload: { turnId: "b" } });
    const lost =
      "store_error: thread t1: its PostgreSQL session failed earlier (terminating connection due to administrator command); the lease is lost and 1 line(s) were not written";
    expect(await code(writer.flush())).toBe(lost);
    expect(await code(writer.flush())).toBe(lost); // still queued, still refused
    expect((await other.read("t1")).map((l) => l.type)).toEqual(["thread_meta", "turn_context"]);
    await opened.writer.close();
    await writer.close().catch(() => {});
  });

  it("a process killed with SIGKILL releases its threads: another process opens them at once", async () => {
    const store = fresh();
    const script = `
      import { PgThreadStore } from ${JSON.stringify(new URL("./pg-store.ts", import.meta.url).pathname)};
      const store = new PgThreadStore({ connectionString: ${JSON.stringify(DATABASE_URL)}, schema: ${JSON.stringify(store.schema)} });
      const w = await store.create({ schemaVersion: 1, threadId: "held", createdAt: 1, cwd: "/" });
      w.append({ ts: 2, type: "turn_context", payload: { turnId: "x" } });
      await w.flush();
      process.stdout.write("holding\\n");
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on("data", (d: Buffer) => d.toString().includes("holding") && resolve());
      child.on("exit", (c) => reject(new Error(`child exited ${c}`)));
    });
    expect(await code(store.open("held"))).toBe("thread_locked: thread held is already open for writing");
    child.kill("SIGKILL");
    await new Promise((r) => child.on("close", r));
    let opened: Awaited<ReturnType<PgThreadStore["open"]>> | undefined;
    for (let i = 0; i < 50 && !opened; i++) {
      opened = await store.open("held").catch(() => undefined);
      if (!opened) await new Promise((r) => setTimeout(r, 20));
    }
    expect(opened?.lines.map((l) => l.type)).toEqual(["thread_meta", "turn_context"]);
    await opened?.writer.close();
  });
});
