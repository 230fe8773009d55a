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
const LONG = join(dirname(fileURLToPath(import.meta.url)), "durable-scale-long.ts");
const LONG_THREADS = Number(process.env.LONG_THREADS ?? 1_000);
const LONG_TURNS = Number(process.env.LONG_TURNS ?? 1_000);

type Figures = Record<string, number | string | unknown[]>;

function run(
  label: string,
  config: RunConfig | Record<string, number>,
  shell?: string,
  runner = RUNNER,
): Figures {
  const args = ["--expose-gc", runner, JSON.stringify(config)];
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
const pending: Figures = { pending: "not run yet" };
let memory = pending;
let turn = pending;
let item = pending;
let perFile = pending;
let limited = pending;
let long = pending;
const none: Figures = { skipped: "not run" };
// Results are written after every run, so an interrupted benchmark still leaves what it measured.
long = run(
  "long threads",
  { threads: LONG_THREADS, turns: LONG_TURNS, checkpointEvery: 100 },
  undefined,
  LONG,
);
save();
memory = run("memory", { store: "memory", sessions: SESSIONS });
save();
turn = run("jsonl turn", { store: "jsonl", durability: "turn", sessions: SESSIONS, reopen: true });
save();
limited = run(
  "jsonl turn, ulimit -n 1024",
  { store: "jsonl", durability: "turn", sessions: SESSIONS },
  "ulimit -n 1024;",
);
save();
item = run("jsonl item", { store: "jsonl", durability: "item", sessions: SESSIONS });
save();
perFile = run("jsonl turn, no group commit", {
  store: "jsonl",
  durability: "turn",
  groupCommit: false,
  sessions: SESSIONS,
});
save();

function save(): void {
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
      close_release_groups: num(turn, "close_release_groups"),
      directory_transactions_per_1k_turns: num(turn, "directory_transactions_per_1k_turns"),
      directory_writes_per_1k_turns: num(turn, "directory_writes_per_1k_turns"),
      peak_open_fds: num(turn, "peak_open_fds"),
      peak_open_fds_memory: num(memory, "peak_open_fds"),
      [`sessions_${k}_turn_ulimit_1024_failed`]: num(limited, "failed_turns"),
      [`sessions_${k}_turn_ulimit_1024_wall_vs_ideal`]: num(limited, "wall_vs_ideal"),
      failed_turns: num(turn, "failed_turns") + num(item, "failed_turns"),
      locks_left_after_close: num(turn, "locks_left_after_close"),
      [`reopen_${k}_threads_ms`]: num(turn, "reopen_ms"),
      reopen_heap_kb_per_session: num(turn, "reopen_heap_kb_per_session"),
      [`reopen_long_${LONG_THREADS}x${LONG_TURNS}_full_replay_ms`]: num(long, "full_replay_ms"),
      [`reopen_long_${LONG_THREADS}x${LONG_TURNS}_checkpoint_ms`]: num(long, "checkpoint_resume_ms"),
      reopen_long_full_replay_cpu_ms: num(long, "full_replay_cpu_ms"),
      reopen_long_checkpoint_cpu_ms: num(long, "checkpoint_resume_cpu_ms"),
      reopen_long_speedup_cpu: num(long, "resume_speedup_cpu"),
      reopen_long_lines_read_full: num(long, "full_replay_lines_read"),
      reopen_long_lines_read_checkpoint: num(long, "checkpoint_resume_lines_read"),
      reopen_long_peak_heap_mb_full: num(long, "full_replay_peak_heap_mb"),
      reopen_long_peak_heap_mb_checkpoint: num(long, "checkpoint_resume_peak_heap_mb"),
      reopen_long_states_identical: (long.states_identical as unknown) === true ? 1 : 0,
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
        "heap per idle session: heap after all turns (engines idle, still live) minus heap before creating them, after GC. " +
        "close_fsyncs_per_1k_threads counts a syncfs (sync --file-system, one per release group) as one. " +
        "directory_*: SQLite write transactions and row writes during the turns (session bindings and thread rows). " +
        `reopen_long_*: ${LONG_THREADS} threads of ${LONG_TURNS} turns (6 lines each, a compaction checkpoint every 100 turns), reopened 16 at a time by store.open + replayRollout (full) and by store.resume (from the checkpoint), same files, one process; CPU ms of the process.`,
      targets: {
        [`sessions_${k}_turn_wall_vs_ideal`]: "<= 1.3",
        peak_open_fds: "<= 256",
        [`sessions_${k}_turn_ulimit_1024_failed`]: "0",
      },
      load_average_samples: load.map((l) => round(l, 2)),
      runs: {
        long_threads: long,
        memory,
        turn,
        item,
        none,
        turn_no_group_commit: perFile,
        turn_ulimit_1024: limited,
      },
    },
  );
}
