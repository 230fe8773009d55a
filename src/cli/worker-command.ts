/** `taifeng worker`: a BullMQ worker that runs threads from recipes (docs/guides/distributed.md). */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Command } from "commander";
import { PgThreadStore, type RecipeRegistry, startWorker } from "../backends/index.ts";
import { describeError } from "../errors.ts";
import { builtinTools } from "../tool/builtin/index.ts";
import { type CliIO, EXIT, UsageError } from "./io.ts";

/** Loads a registry module: its `registry` or default export (a RecipeRegistry, or a function returning one). */
async function loadRegistry(path: string, io: CliIO): Promise<RecipeRegistry> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(io.cwd, path)).href)) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`--registry ${path}: cannot load it: ${describeError(err)}`);
  }
  const found = mod.registry ?? mod.default;
  const value = typeof found === "function" ? await (found as () => unknown)() : found;
  if (typeof value !== "object" || value === null)
    throw new UsageError(`--registry ${path}: export \`registry\` (or a default) as { tools, model }`);
  return value as RecipeRegistry;
}

function positive(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${flag} must be a whole number above 0, got ${value}`);
  return n;
}

/** Registers `taifeng worker`. */
export function registerWorkerCommand(program: Command, io: CliIO, result: { code: number }): void {
  program
    .command("worker")
    .description(
      "run threads submitted through BullMQ (Redis: REDIS_URL, PostgreSQL: DATABASE_URL) until SIGTERM",
    )
    .option("--concurrency <n>", "threads run at once (default 8)")
    .option(
      "--registry <module>",
      "module exporting the tools and models recipes may name (default: the built-in tools)",
    )
    .option("--queue <name>", "queue name, shared with the submitters (default taifeng)")
    .option("--prefix <name>", "Redis key prefix (default taifeng)")
    .option("--schema <name>", "PostgreSQL schema (default taifeng)")
    .action(
      async (opts: {
        concurrency?: string;
        registry?: string;
        queue?: string;
        prefix?: string;
        schema?: string;
      }) => {
        const concurrency = positive("--concurrency", opts.concurrency, 8);
        const databaseUrl = io.env.DATABASE_URL;
        if (!databaseUrl) throw new UsageError("DATABASE_URL is not set (the PostgreSQL thread store)");
        const builtins = opts.registry ? undefined : builtinTools();
        const registry = opts.registry
          ? await loadRegistry(opts.registry, io)
          : { tools: builtins?.tools ?? [] };
        const store = new PgThreadStore({
          connectionString: databaseUrl,
          maxConnections: concurrency + 4,
          ...(opts.schema ? { schema: opts.schema } : {}),
        });
        await store.migrate();
        const worker = startWorker({
          store,
          registry,
          concurrency,
          ...(io.env.REDIS_URL ? { redisUrl: io.env.REDIS_URL } : {}),
          ...(opts.queue ? { queue: opts.queue } : {}),
          ...(opts.prefix ? { prefix: opts.prefix } : {}),
          onWarning: (m) => io.stderr.write(`taifeng worker: ${m}\n`),
        });
        await worker.ready;
        io.stderr.write(`taifeng worker: ready (concurrency ${concurrency})\n`);
        // SIGTERM / SIGINT: take no new job, finish the running ones (a second signal hands them back).
        let signals = 0;
        let stop: () => void = () => {};
        const stopped = new Promise<void>((done) => {
          stop = () => {
            signals++;
            io.stderr.write(
              signals === 1
                ? "taifeng worker: finishing running threads\n"
                : "taifeng worker: handing threads back\n",
            );
            worker.close(signals > 1).then(done, done);
          };
        });
        const offInt = io.onInterrupt(stop);
        process.on("SIGTERM", stop);
        await stopped;
        offInt();
        process.off("SIGTERM", stop);
        await builtins?.close();
        await store.close();
        result.code = EXIT.ok;
      },
    );
}
