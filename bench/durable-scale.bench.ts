// durable-scale (issue 22): the concurrency workload — N sessions in one EnginePool, each
// running one turn of 3 model steps with 1 s of simulated latency (ideal wall 3 s) — on the
// default JsonlThreadStore, with the in-memory figures beside it. Every configuration runs
// in its own process (durable-scale-run.ts), one after another; the ulimit run goes through
// `sh -c "ulimit -n 1024; exec node ..."`.
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunConfig } from "./durable-scale-run.ts";
import { round, writeResult } from "./lib.ts";

const SESSIONS = Number(process.env.SESSIONS ?? 10_000);
const RUNNER = join(dirname(fileURLToPath(import.meta.url)), "durable-scale-run.ts");

type Figures = Record<string, number | string | unknown[]>;

function run(label: string, config: RunConfig, shell?: string): Figures {
  const args = ["--expose-gc", RUNNER, JSON.stringify(config)];
  const res = shell
    ? spawnSync("sh", ["-c", `${shell} exec "$0" "$@"`, process.execPath, ...args], { encoding: "utf8" })
    : spawnSync(process.execPath, args, { encoding: "utf8" });
  const last = res.stdout.trim().split("\n").at(-1) ?? "";
  if (res.status !== 0 || !last.startsWith("{")) {
    console.error(`${label} failed (${res.status}): ${res.stderr.slice(-2000)}`);
    return { error: `exit ${res.status}: ${res.stderr.slice(-300)}` };
  }
  const figures = JSON.parse(last) as Figures;
  console.log(`${label}: ${last}`);
  return figures;
}

const load = [loadavg()[0] as number];
const memory = run("memory", { store: "memory", sessions: SESSIONS });
load.push(loadavg()[0] as number);
const turn = run("jsonl turn", { store: "jsonl", durability: "turn", sessions: SESSIONS, reopen: true });
load.push(loadavg()[0] as number);
const item = run("jsonl item", { store: "jsonl", durability: "item", sessions: SESSIONS });
load.push(loadavg()[0] as number);
const none: Figures =
  process.env.WITH_NONE === "1"
    ? run("jsonl none", { store: "jsonl", durability: "none", sessions: SESSIONS })
    : { skipped: "set WITH_NONE=1" };
load.push(loadavg()[0] as number);
const perFile = run("jsonl turn, no group commit", {
  store: "jsonl",
  durability: "turn",
  groupCommit: false,
  sessions: SESSIONS,
});
load.push(loadavg()[0] as number);
const limited = run(
  "jsonl turn, ulimit -n 1024",
  { store: "jsonl", durability: "turn", sessions: SESSIONS },
  "ulimit -n 1024;",
);
load.push(loadavg()[0] as number);

const k = SESSIONS >= 1000 ? `${SESSIONS / 1000}k` : String(SESSIONS);
const num = (f: Figures, key: string) => (typeof f[key] === "number" ? (f[key] as number) : Number.NaN);
writeResult(
  "durable-scale",
  {
    sessions: SESSIONS,
    [`sessions_${k}_turn_wall_vs_ideal`]: num(turn, "wall_vs_ideal"),
    [`sessions_${k}_item_wall_vs_ideal`]: num(item, "wall_vs_ideal"),
    [`sessions_${k}_memory_wall_vs_ideal`]: num(memory, "wall_vs_ideal"),
    [`sessions_${k}_turn_no_group_commit_wall_vs_ideal`]: num(perFile, "wall_vs_ideal"),
    turn_vs_memory_wall: round(num(turn, "wall_ms") / num(memory, "wall_ms"), 3),
    fsyncs_per_1k_turns: num(turn, "fsyncs_per_1k_turns"),
    fsyncs_per_1k_turns_item: num(item, "fsyncs_per_1k_turns"),
    fsyncs_per_1k_turns_no_group_commit: num(perFile, "fsyncs_per_1k_turns"),
    close_fsyncs_per_1k_threads: num(turn, "close_fsyncs_per_1k_threads"),
    peak_open_fds: num(turn, "peak_open_fds"),
    peak_open_fds_memory: num(memory, "peak_open_fds"),
    [`sessions_${k}_turn_ulimit_1024_failed`]: num(limited, "failed_turns"),
    [`sessions_${k}_turn_ulimit_1024_wall_vs_ideal`]: num(limited, "wall_vs_ideal"),
    failed_turns: num(turn, "failed_turns") + num(item, "failed_turns"),
    locks_left_after_close: num(turn, "locks_left_after_close"),
    [`reopen_${k}_threads_ms`]: num(turn, "reopen_ms"),
    reopen_heap_kb_per_session: num(turn, "reopen_heap_kb_per_session"),
    reopen_peak_open_fds: num(turn, "reopen_peak_open_fds"),
    heap_kb_per_idle_durable_session: num(turn, "heap_kb_per_idle_session"),
    heap_kb_per_idle_session_memory: num(memory, "heap_kb_per_idle_session"),
    pool_close_ms_turn: num(turn, "close_ms"),
    load_average_max: round(Math.max(...load), 2),
  },
  {
    workload:
      `After a warm-up (2 x 1,000 sessions, 1 ms latency, same store kind), ${SESSIONS} sessions in one EnginePool; each runs one turn of 3 model steps (SimClient, 1,000 ms before the first chunk of every step; steps 1-2 call a tool). ` +
      "Each configuration in its own process, one after another. JSONL stores in os.tmpdir() (ext4 on a virtual disk). " +
      "fsyncs_per_1k_turns: fsyncs the turns waited for (write-ahead log batches; per-transcript fsyncs without group commit). " +
      "close_fsyncs_per_1k_threads: fsyncs done when the pool closes (each thread's transcript fsynced before its lock is released, plus log records). " +
      "peak_open_fds: /proc/self/fd sampled every 5 ms during the turns (whole process). reopen: a new store and pool on the same directory resume every thread at once. " +
      "heap per idle session: heap after all turns (engines idle, still live) minus heap before creating them, after GC.",
    targets: {
      [`sessions_${k}_turn_wall_vs_ideal`]: "<= 1.3",
      peak_open_fds: "<= 256",
      [`sessions_${k}_turn_ulimit_1024_failed`]: "0",
    },
    load_average_samples: load.map((l) => round(l, 2)),
    runs: { memory, turn, item, none, turn_no_group_commit: perFile, turn_ulimit_1024: limited },
  },
);
