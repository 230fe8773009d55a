/** Per-test infrastructure: a fresh schema and queue, in-process or spawned workers, cleanup. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BullmqBackend, PgThreadStore, startWorker, type TaifengWorker } from "../../src/backends/index.ts";
import { DATABASE_URL, dropSchema, REDIS_URL, uniqueName } from "../helpers/services.ts";
import { testRegistry } from "./registry.ts";

const WORKER = join(dirname(fileURLToPath(import.meta.url)), "worker-proc.ts");

export interface Harness {
  readonly schema: string;
  readonly queue: string;
  readonly dir: string;
  readonly store: PgThreadStore;
  readonly backend: BullmqBackend;
  /** A worker in this process. */
  worker(options?: { concurrency?: number; delayMs?: number }): Promise<TaifengWorker>;
  /** A worker process; resolves once it takes jobs. */
  spawnWorker(options?: { concurrency?: number; delayMs?: number }): Promise<ChildProcess>;
  cleanup(): Promise<void>;
}

export async function harness(): Promise<Harness> {
  const schema = uniqueName("dist");
  const queue = uniqueName("q");
  const dir = mkdtempSync(join(tmpdir(), "taifeng-dist-"));
  const store = new PgThreadStore({ connectionString: DATABASE_URL, schema, maxConnections: 10 });
  await store.migrate();
  const backend = new BullmqBackend({ store, redisUrl: REDIS_URL, queue, prefix: queue });
  const workers: TaifengWorker[] = [];
  const children: ChildProcess[] = [];
  return {
    schema,
    queue,
    dir,
    store,
    backend,
    async worker(options = {}) {
      const w = startWorker({
        store,
        registry: testRegistry(dir, options.delayMs ?? 5),
        redisUrl: REDIS_URL,
        queue,
        prefix: queue,
        concurrency: options.concurrency ?? 4,
        lockDurationMs: 1000,
        stalledIntervalMs: 500,
      });
      workers.push(w);
      await w.ready;
      return w;
    },
    async spawnWorker(options = {}) {
      const config = { databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, schema, queue, dir, ...options };
      const child = spawn(process.execPath, [WORKER, JSON.stringify(config)], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(child);
      let err = "";
      child.stderr?.on("data", (d) => {
        err += d;
      });
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on("data", (d: Buffer) => {
          if (d.toString().includes("ready")) resolve();
        });
        child.on("exit", (code) => reject(new Error(`worker exited (${code}): ${err}`)));
      });
      return child;
    },
    async cleanup() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
      for (const w of workers) await w.close(true).catch(() => {});
      await backend.bullQueue.obliterate({ force: true }).catch(() => {});
      await backend.close();
      await store.close();
      await dropSchema(schema);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
