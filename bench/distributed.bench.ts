// The distributed backend's costs: a turn through BullMQ + PostgreSQL against inline + JSONL,
// throughput with one and two worker processes, resuming a 10,000-turn thread from PostgreSQL.
// Needs Redis (REDIS_URL) and PostgreSQL (DATABASE_URL). `node bench/distributed.bench.ts [--quick]`.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { PgThreadStore } from "../src/backends/index.ts";
import { JsonlThreadStore } from "../src/conversation/jsonl-store.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { emptyUsage, type RolloutLine, textMessage } from "../src/protocol/index.ts";
import { type Harness, harness } from "../test/backends/harness.ts";
import { effectsModel, testRegistry } from "../test/backends/registry.ts";
import { DATABASE_URL, REDIS_URL, uniqueName } from "../test/helpers/services.ts";
import { backendsDelta, cpuSnap, postgresBackends } from "./distributed-cpu.ts";
import { percentile, round, writeResult } from "./lib.ts";

const QUICK = process.argv.includes("--quick");
const median = (xs: number[]) => percentile(xs, 50);

/** Inline + JSONL: one turn of two model steps (a tool call, then the answer), sequentially. */
async function inlineTurns(n: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), "taifeng-bench-inline-"));
  const registry = testRegistry(dir, 0);
  const store = new JsonlThreadStore({ dir });
  const samples: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const engine = await AgentEngine.open({
        model: effectsModel(0),
        tools: [...(registry.tools ?? [])].filter((t) => t.name === "effect"),
        store,
        threadId: `inline${i}`,
        crashedTurns: "continue",
      });
      await engine.submitAndWait("effect 1");
      await engine.close();
      samples.push(performance.now() - t0);
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return samples;
}

/** BullMQ + PostgreSQL: the same turn, submitted and awaited one at a time, one in-process worker. */
async function queuedTurns(h: Harness, n: number): Promise<number[]> {
  await h.worker({ concurrency: 4, delayMs: 0 });
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const threadId = await h.backend.createThread({
      threadId: `q${i}`,
      recipe: { model: "sim:effects", tools: ["effect"] },
    });
    const t0 = performance.now();
    const outcome = await h.backend.wait(await h.backend.submit(threadId, "effect 1"), { pollMs: 50 });
    samples.push(performance.now() - t0);
    if (outcome.status !== "completed") throw new Error(`turn ${i}: ${JSON.stringify(outcome)}`);
  }
  return samples;
}

/**
 * What a per-step job design (issue 20's "one job = one model step") would add per step, measured
 * piecewise: one chained BullMQ job (a job that enqueues the next, as a step would) — p50 of the
 * time from `add` in one job to the start of the next — on a queue of its own.
 */
async function chainedJobHop(n: number): Promise<number> {
  const queueName = uniqueName("hop");
  const connection = { url: REDIS_URL, maxRetriesPerRequest: null };
  const queue = new Queue(queueName, { connection, prefix: queueName });
  const gaps: number[] = [];
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  const worker = new Worker(
    queueName,
    async (job) => {
      gaps.push(performance.now() - (job.data as { t: number }).t);
      const i = (job.data as { i: number }).i;
      if (i >= n) finish();
      else await queue.add("step", { i: i + 1, t: performance.now() }, { jobId: `s${i + 1}` });
    },
    { connection, prefix: queueName, concurrency: 1 },
  );
  await worker.waitUntilReady();
  await queue.add("step", { i: 0, t: performance.now() }, { jobId: "s0" });
  await finished;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return median(gaps.slice(10));
}

/** Round-trip latency of this machine right now: PostgreSQL `SELECT 1` and Redis PING, p50 of 200. */
async function roundTrips(): Promise<{ pgMs: number; redisMs: number }> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  const redis = new Redis(REDIS_URL);
  const pgSamples: number[] = [];
  const redisSamples: number[] = [];
  for (let i = 0; i < 200; i++) {
    let t0 = performance.now();
    await client.query("SELECT 1");
    pgSamples.push(performance.now() - t0);
    t0 = performance.now();
    await redis.ping();
    redisSamples.push(performance.now() - t0);
  }
  await client.end();
  redis.disconnect();
  return { pgMs: median(pgSamples), redisMs: median(redisSamples) };
}

async function counters(): Promise<{ pgCommits: number; redisCalls: number }> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  const { rows } = await client.query(
    "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
  );
  await client.end();
  const info = execFileSync("redis-cli", ["-u", REDIS_URL, "INFO", "commandstats"], { encoding: "utf8" });
  const redisCalls = [...info.matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  return { pgCommits: Number(rows[0]?.xact_commit ?? 0), redisCalls };
}

/** Many threads at once on `workers` worker processes; model latency 50 ms per step. */
async function throughput(workers: number, threads: number, effects: number) {
  const h = await harness();
  try {
    const procs = await Promise.all(
      Array.from({ length: workers }, () => h.spawnWorker({ concurrency: 32, delayMs: 50 })),
    );
    const pids = procs.map((p) => p.pid as number);
    const ids = Array.from({ length: threads }, (_, i) => `w${workers}t${i}`);
    await Promise.all(
      ids.map((threadId) =>
        h.backend.createThread({ threadId, recipe: { model: "sim:effects", tools: ["effect"] } }),
      ),
    );
    const before = await counters();
    const pg0 = await postgresBackends(DATABASE_URL);
    const cpu0 = cpuSnap(pids);
    const t0 = performance.now();
    const tickets = await Promise.all(ids.map((id) => h.backend.submit(id, `effect ${effects}`)));
    const outcomes = await Promise.all(tickets.map((t) => h.backend.wait(t, { pollMs: 2000 })));
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuSnap(pids);
    const pg1 = await postgresBackends(DATABASE_URL);
    const after = await counters();
    if (outcomes.some((o) => o.status !== "completed")) throw new Error("a turn did not complete");
    const steps = threads * (effects + 1);
    return {
      stepsPerS: steps / seconds,
      steps,
      seconds,
      pgCommitsPerStep: (after.pgCommits - before.pgCommits) / steps,
      redisCallsPerStep: (after.redisCalls - before.redisCalls) / steps,
      // CPU ms per model step: this run's worker processes and submitting process exactly;
      // redis-server the bench's own (see ownRedis); postgres machine-wide (other users included).
      cpuMsPerStep: {
        workers: (cpu1.workers - cpu0.workers) / steps,
        submitter: (cpu1.bench - cpu0.bench) / steps,
        redis: (cpu1.redis - cpu0.redis) / steps,
        postgresServerWide: (cpu1.postgres - cpu0.postgres) / steps,
        postgresOwnBackends: backendsDelta(pg0, pg1) / steps,
      },
      machineBusyFraction:
        (cpu1.machine.busy - cpu0.machine.busy) / Math.max(1, cpu1.machine.total - cpu0.machine.total),
    };
  } finally {
    await h.cleanup();
  }
}

/** A synthetic 10,000-turn thread (the persistence bench's turn shape), resumed from PostgreSQL and JSONL. */
async function resume(turns: number, runs: number, warm = false) {
  const schema = `bench_resume_${process.pid}`;
  const pgStore = new PgThreadStore({ connectionString: DATABASE_URL, schema, batchDelayMs: -1 });
  const dir = mkdtempSync(join(tmpdir(), "taifeng-bench-resume-"));
  const jsonl = new JsonlThreadStore({ dir, index: false });
  const meta = { schemaVersion: 1, threadId: "long", createdAt: 1, cwd: "/w" };
  const out = "x".repeat(600);
  try {
    for (const store of [pgStore, jsonl]) {
      const writer = await store.create(meta);
      for (let t = 0; t < turns; t++) {
        const ts = 2 + t;
        const lines: RolloutLine[] = [
          { ts, type: "turn_context", payload: { turnId: `turn_${t}`, submissionId: `sub_${t}` } },
          {
            ts,
            type: "response_item",
            payload: textMessage("user", `Question ${t}: what does the ledger say about account ${t % 97}?`),
          },
          {
            ts,
            type: "response_item",
            payload: {
              type: "function_call",
              callId: `call_${t}`,
              name: "lookup",
              arguments: `{"q":"account ${t % 97}"}`,
            },
          },
          {
            ts,
            type: "response_item",
            payload: { type: "function_call_output", callId: `call_${t}`, output: `{"rows":"${out}"}` },
          },
          {
            ts,
            type: "response_item",
            payload: textMessage(
              "assistant",
              `The ledger shows account ${t % 97} balanced after the last transfer; nothing is pending.`.repeat(
                2,
              ),
            ),
          },
          {
            ts,
            type: "event",
            payload: { msg: { type: "turn_completed", steps: 2, usage: emptyUsage(), durationMs: 1 } },
          },
        ];
        for (const line of lines) writer.append(line);
        // PostgreSQL: one row per turn, as an engine writes it (it flushes at every turn end).
        if (store === pgStore || t % 500 === 499) await writer.flush();
      }
      await writer.close();
    }
    // Cold: a new store per open (the resume target's figure). Warm: one migrated store with
    // open connections, as in a worker; open + close (a per-step job would do both every step).
    const measure = async (make: () => PgThreadStore | JsonlThreadStore) => {
      const samples: number[] = [];
      const shared = warm ? make() : undefined;
      if (shared instanceof PgThreadStore) await shared.migrate();
      for (let i = 0; i < runs; i++) {
        const store = shared ?? make();
        const t0 = performance.now();
        const engine = await AgentEngine.open({
          model: effectsModel(0),
          store,
          threadId: "long",
          context: false,
        });
        if (warm) await engine.close();
        samples.push(performance.now() - t0);
        if (!warm) await engine.close();
        if (!shared) await store.close();
      }
      await shared?.close();
      return samples;
    };
    const pgMs = await measure(() => new PgThreadStore({ connectionString: DATABASE_URL, schema }));
    const jsonlMs = await measure(() => new JsonlThreadStore({ dir, index: false }));
    return { pgMs, jsonlMs };
  } finally {
    await pgStore.close();
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg().map((x) => round(x, 2));
  const turns = QUICK ? 20 : 100;
  const rtt = await roundTrips();
  const inline = await inlineTurns(turns + 10);
  const h = await harness();
  let queued: number[];
  const c0 = await counters();
  try {
    queued = await queuedTurns(h, turns + 10);
  } finally {
    await h.cleanup();
  }
  const c1 = await counters();
  const perTurn = {
    pgTransactions: (c1.pgCommits - c0.pgCommits) / (turns + 10),
    redisCalls: (c1.redisCalls - c0.redisCalls) / (turns + 10),
  };
  const inlineP50 = median(inline.slice(10));
  const queuedP50 = median(queued.slice(10));
  const stepsPerTurn = 2;
  const threads = QUICK ? 20 : 64;
  const one = await throughput(1, threads, 3);
  const two = await throughput(2, threads, 3);
  const res = await resume(QUICK ? 1000 : 10_000, QUICK ? 3 : 5);
  // Per-step jobs (not built; ADR 2500): every step would pay a job hop and an engine rebuild.
  const hop = await chainedJobHop(QUICK ? 50 : 200);
  const rebuild10 = median((await resume(10, 15, true)).pgMs.slice(3));
  const rebuild100 = median((await resume(100, 15, true)).pgMs.slice(3));
  const pgResume = median(res.pgMs);
  const addedPerStep = (queuedP50 - inlineP50) / stepsPerTurn;
  const scaling = two.stepsPerS / one.stepsPerS;
  const loadAfter = loadavg().map((x) => round(x, 2));
  console.log(JSON.stringify({ rtt, perTurn }));
  writeResult(
    "distributed",
    {
      added_ms_per_step_p50: round(addedPerStep, 2),
      added_ms_per_turn_p50: round(queuedP50 - inlineP50, 2),
      inline_jsonl_turn_ms_p50: round(inlineP50, 2),
      bullmq_pg_turn_ms_p50: round(queuedP50, 2),
      steps_per_s_1_worker: round(one.stepsPerS, 1),
      steps_per_s_2_workers: round(two.stepsPerS, 1),
      scaling_2_vs_1: round(scaling, 2),
      pg_resume_10k_turns_ms: round(pgResume, 1),
      jsonl_resume_10k_turns_ms_same_run: round(median(res.jsonlMs), 1),
      pg_round_trip_ms_p50: round(rtt.pgMs, 3),
      redis_round_trip_ms_p50: round(rtt.redisMs, 3),
      pg_transactions_per_turn_sequential: round(perTurn.pgTransactions, 1),
      redis_calls_per_turn_sequential: round(perTurn.redisCalls, 1),
      pg_transactions_per_step_throughput: round(two.pgCommitsPerStep, 2),
      redis_calls_per_step_throughput: round(two.redisCallsPerStep, 1),
      cpu_ms_per_step_workers_1_worker: round(one.cpuMsPerStep.workers, 2),
      cpu_ms_per_step_workers_2_workers: round(two.cpuMsPerStep.workers, 2),
      cpu_ms_per_step_redis: round(two.cpuMsPerStep.redis, 2),
      cpu_ms_per_step_postgres_server_wide: round(two.cpuMsPerStep.postgresServerWide, 2),
      cpu_ms_per_step_postgres_own_backends: round(two.cpuMsPerStep.postgresOwnBackends, 2),
      cpu_ms_per_step_postgres_own_backends_1_worker: round(one.cpuMsPerStep.postgresOwnBackends, 2),
      cpu_ms_per_step_submitter: round(two.cpuMsPerStep.submitter, 2),
      machine_busy_fraction_1_worker: round(one.machineBusyFraction, 2),
      machine_busy_fraction_2_workers: round(two.machineBusyFraction, 2),
      per_step_jobs_hop_ms_p50: round(hop, 2),
      per_step_jobs_rebuild_10_turns_ms_p50: round(rebuild10, 2),
      per_step_jobs_rebuild_100_turns_ms_p50: round(rebuild100, 2),
      per_step_jobs_projected_added_ms_per_step_10_turns: round(hop + rebuild10, 2),
      per_step_jobs_projected_added_ms_per_step_10k_turns: round(hop + pgResume, 1),
    },
    {
      quick: QUICK,
      redis_server:
        process.env.TAIFENG_BENCH_REDIS_PID !== undefined
          ? "the bench's own redis-server: Redis command counts and CPU are this bench's only"
          : "the shared Redis: command counts and CPU include other users",
      postgres_server:
        "shared: transaction counts and CPU are database- and machine-wide, other users included",
      load_average: {
        note: "1/5/15-minute load averages of this 2-core machine, shared with other engineers; figures taken under load are slower",
        before: loadBefore,
        after: loadAfter,
      },
      targets: { added_ms_per_step_p50: 5, scaling_2_vs_1: 1.6, pg_resume_10k_turns_ms: 300 },
      met: {
        added_ms_per_step_p50: addedPerStep <= 5,
        scaling_2_vs_1: scaling >= 1.6,
        pg_resume_10k_turns_ms: pgResume <= 300,
      },
      workloads: {
        added_per_step: `${turns} turns one at a time after 10 warm-up, each a new thread: model step 1 calls a tool with an effect (appends a line), step 2 answers; simulator latency 0. Inline: AgentEngine.open on a JSONL store, submitAndWait, close. BullMQ: createThread (not timed), then submit (inbox row + job) until the outcome is read back (wait: Redis pub/sub wake-up, transcript read); one in-process worker. A job is a turn (ADR 1600), so the per-step figure is the per-turn difference divided by the turn's 2 model steps.`,
        throughput: `${threads} threads submitted at once, each one turn of 4 model steps (3 effect calls, then the answer), model latency 50 ms per step; worker processes with concurrency 32 each (36 PostgreSQL connections each); steps/s = model steps / wall time from the first submit to the last outcome read`,
        per_step_jobs:
          "not built (ADR 2500): what one job per model step would add to every step, measured piecewise in this run: a chained BullMQ job (job n enqueues job n+1; p50 of add-to-start) plus rebuilding the engine from PostgreSQL and releasing it (AgentEngine.open + close on a warm store: lease, read, replay, unlock) on threads of 10 and 100 turns (p50 of 12 after 3 warm-up), and the cold 10,000-turn resume. Today a job runs a turn segment and pays the rebuild once per segment, not once per step.",
        resume: `a synthetic thread of ${QUICK ? 1000 : 10_000} turns (6 lines each, ~1.1 KB of items per turn; in PostgreSQL one row per turn, flushed turn by turn as the engine does), AgentEngine.open with a new store each time (lock, read, validate, replay), median of ${QUICK ? 3 : 5}; the JSONL store on the same lines in the same run for comparison`,
      },
      samples: {
        inline_turn_ms: inline.map((x) => round(x, 2)),
        bullmq_turn_ms: queued.map((x) => round(x, 2)),
        pg_resume_ms: res.pgMs.map((x) => round(x, 1)),
        jsonl_resume_ms: res.jsonlMs.map((x) => round(x, 1)),
        throughput: { one_worker: one, two_workers: two },
      },
    },
  );
}

/**
 * Redis for this bench alone (a `redis-server` on a port of its own, no persistence), so its
 * command counts and CPU time are this bench's only: the shared Redis also serves other
 * sessions. `--shared-redis` uses REDIS_URL as is. PostgreSQL stays shared (its CPU figure is
 * machine-wide, other users included).
 */
async function ownRedis(): Promise<number> {
  const port = 20_000 + (process.pid % 20_000);
  const server = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if (execFileSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" }).trim() === "PONG")
        break;
    } catch {}
    if (i > 200) {
      server.kill("SIGKILL");
      throw new Error("redis-server did not start");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // A database of its own too: transaction counts and backend CPU are then this bench's.
  const database = `dist_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const own = new URL(DATABASE_URL);
  own.pathname = `/${database}`;
  const run = spawnSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: "inherit",
      env: {
        ...process.env,
        REDIS_URL: url,
        DATABASE_URL: own.href,
        TAIFENG_BENCH_REDIS_PID: String(server.pid),
      },
    },
  );
  server.kill("SIGKILL");
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
  return run.status ?? 1;
}

if (process.env.TAIFENG_BENCH_REDIS_PID === undefined && !process.argv.includes("--shared-redis"))
  process.exit(await ownRedis());
await main();
process.exit(0);
