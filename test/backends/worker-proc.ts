// A worker process for the distributed tests: `node worker-proc.ts '<json config>'`.
// Prints "ready" when it takes jobs; SIGTERM closes it gracefully.
import { PgThreadStore, startWorker } from "../../src/backends/index.ts";
import { testRegistry } from "./registry.ts";

const config = JSON.parse(process.argv[2] ?? "{}") as {
  databaseUrl: string;
  redisUrl: string;
  schema: string;
  queue: string;
  dir: string;
  concurrency?: number;
  delayMs?: number;
};
const store = new PgThreadStore({
  connectionString: config.databaseUrl,
  schema: config.schema,
  maxConnections: (config.concurrency ?? 8) + 4,
});
const worker = startWorker({
  store,
  registry: testRegistry(config.dir, config.delayMs ?? 20),
  redisUrl: config.redisUrl,
  queue: config.queue,
  prefix: config.queue,
  concurrency: config.concurrency ?? 8,
  lockDurationMs: 1000,
  stalledIntervalMs: 500,
  maxStalledCount: 100,
  onWarning: (m) => process.stderr.write(`${m}\n`),
});
await worker.ready;
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void worker
    .close()
    .then(() => store.close())
    .then(() => process.exit(0));
});
