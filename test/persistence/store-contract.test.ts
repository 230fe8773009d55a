import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe } from "vitest";
import { PgThreadStore } from "../../src/backends/pg/pg-store.ts";
import { JsonlThreadStore, MemoryThreadStore, type ThreadStore } from "../../src/index.ts";
import { DATABASE_URL, dropSchema, services, uniqueName } from "../helpers/services.ts";
import { storeContract } from "./store-contract.ts";

// Every store runs the same contract (store-contract.ts).

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

storeContract("memory", async () => {
  const store = new MemoryThreadStore();
  return { store, reopen: () => store };
});

storeContract("JSONL", async () => {
  const dir = mkdtempSync(join(tmpdir(), "taifeng-contract-"));
  const opened: ThreadStore[] = [];
  const make = () => {
    const s = new JsonlThreadStore({ dir });
    opened.push(s);
    return s;
  };
  cleanups.push(async () => {
    for (const s of opened) await s.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  return { store: make(), reopen: make };
});

const pg = await services({ pg: true });
const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await dropSchema(s);
});

describe.runIf(pg.run)("PostgreSQL", () => {
  storeContract("PostgreSQL", async () => {
    const schema = uniqueName("contract");
    schemas.push(schema);
    const opened: ThreadStore[] = [];
    const make = () => {
      const s = new PgThreadStore({ connectionString: DATABASE_URL, schema, maxConnections: 4 });
      opened.push(s);
      return s;
    };
    cleanups.push(async () => {
      for (const s of opened) await s.close().catch(() => {});
    });
    return { store: make(), reopen: make };
  });
});
