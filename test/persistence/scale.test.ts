import { type ChildProcess, spawn } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  truncateSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { decodeSegment } from "../../src/conversation/wal-format.ts";
import { isTaifengError } from "../../src/errors.ts";
import { readAfterCrash, turnHash } from "./child-process.ts";
import type { PoolChildConfig, PoolChildMessage } from "./scale-pool-child.ts";

// Issue 22: a pool on the default JSONL store serving more sessions than the process has file
// descriptors, group commit across threads, and crash recovery through the write-ahead log.
// Heavy versions of these workloads (10,000 sessions) run in bench/durable-scale.bench.ts.

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "scale-pool-child.ts");

interface PoolChild {
  readonly process: ChildProcess;
  readonly messages: PoolChildMessage[];
  readonly stderr: () => string;
  readonly exited: Promise<number | string>;
  /** Resolves once `count` messages of `type` arrived. */
  waitFor(type: PoolChildMessage["type"], count?: number): Promise<void>;
}

let dir: string;
let running: PoolChild[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "taifeng-scale-"));
});
afterEach(() => {
  for (const child of running) child.process.kill("SIGKILL");
  running = [];
  rmSync(dir, { recursive: true, force: true });
});

/** Starts scale-pool-child.ts, through `sh -c "<shell> exec node ..."` when a shell prefix is given. */
function startPool(config: PoolChildConfig, shell?: string): PoolChild {
  const args = [CHILD, JSON.stringify(config)];
  const child = shell
    ? spawn("sh", ["-c", `${shell} exec "$0" "$@"`, process.execPath, ...args], {
        stdio: ["ignore", "pipe", "pipe"],
      })
    : spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const messages: PoolChildMessage[] = [];
  const waiters: (() => void)[] = [];
  let pending = "";
  let err = "";
  let done = false;
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk;
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      messages.push(JSON.parse(pending.slice(0, nl)) as PoolChildMessage);
      pending = pending.slice(nl + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on("close", (code, signal) => {
      done = true;
      resolve(code ?? signal ?? "unknown");
      for (const w of waiters.splice(0)) w();
    });
  });
  const started: PoolChild = {
    process: child,
    messages,
    stderr: () => err,
    exited,
    waitFor(type, count = 1) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (messages.filter((m) => m.type === type).length >= count) return resolve();
          if (done) return reject(new Error(`child exited before ${count} "${type}": ${err.slice(0, 2000)}`));
          waiters.push(check);
        };
        check();
      });
    },
  };
  running.push(started);
  return started;
}

const acks = (child: PoolChild) =>
  child.messages.filter((m): m is Extract<PoolChildMessage, { type: "ack" }> => m.type === "ack");
const failures = (child: PoolChild) => child.messages.filter((m) => m.type === "failed");
const done = (child: PoolChild) =>
  child.messages.find((m): m is Extract<PoolChildMessage, { type: "done" }> => m.type === "done");

/** Descriptors a process holds, by target (files of the store directory only). */
function storeFds(pid: number, storeDir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      // The SQLite thread directory keeps its own three files open (outside the budget).
      if (target.startsWith(storeDir) && !target.includes("index.sqlite")) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

describe("a pool on the JSONL store under a low open-file limit", () => {
  it("completes every turn of more sessions than the process has descriptors", async () => {
    // 240 sessions, 2 turns each, under `ulimit -n 64`: before the descriptor budget every open
    // failed with EMFILE once the limit was reached. The default budget follows the limit (16).
    const child = startPool({ dir, sessions: 240, turns: 2, latencyMs: 20 }, "ulimit -n 64;");
    expect(await child.exited, child.stderr()).toBe(0);
    expect(failures(child)).toEqual([]);
    expect(acks(child)).toHaveLength(480);
    const stats = done(child);
    expect(stats?.maxOpen).toBe(16);
    expect(stats?.stats.fds.peak).toBeLessThanOrEqual(16);
    // Group commit: far fewer log fsyncs than acknowledged turns, and none per transcript.
    expect(stats?.stats.wal?.syncs).toBeLessThan(240);
    for (const ack of acks(child).slice(0, 50)) {
      const replay = readAfterCrash(join(dir, `${ack.threadId}.jsonl`)).replay;
      expect(turnHash(replay, ack.turnId)).toBe(ack.hash);
    }
    expect(readdirSync(join(dir, "wal")).filter((n) => n.endsWith(".wal"))).toEqual([]);
    // Closing 240 threads at once through 16 descriptors released every lock.
    expect(readdirSync(dir).filter((n) => n.endsWith(".lock"))).toEqual([]);
  }, 60_000);

  it("waits out EMFILE when its budget is larger than the limit, and loses no turn", async () => {
    // A budget of 400 under a limit of 64: opens fail with a real EMFILE, handles are closed
    // and the opens retried, and every turn still completes.
    const child = startPool(
      { dir, sessions: 120, turns: 1, latencyMs: 20, maxOpenFiles: 400 },
      "ulimit -n 64;",
    );
    expect(await child.exited, child.stderr()).toBe(0);
    expect(failures(child)).toEqual([]);
    expect(acks(child)).toHaveLength(120);
    expect(done(child)?.stats.fds.retries).toBeGreaterThan(0);
    expect(done(child)?.stats.fds.limit).toBeLessThan(64); // it gave descriptors back
  }, 60_000);
});

describe("thread ownership without a descriptor per thread", () => {
  it("holds 200 threads with at most the budget's descriptors, and another process still cannot write them", async () => {
    const child = startPool({ dir, sessions: 200, turns: 1, latencyMs: 5, maxOpenFiles: 8, hold: true });
    await child.waitFor("holding");
    const pid = child.process.pid as number;
    // Every thread is open for writing in the child, yet it holds at most 8 store descriptors.
    const held = storeFds(pid, dir);
    expect(held.length, held.join("\n")).toBeLessThanOrEqual(8);
    expect(readdirSync(dir).filter((n) => n.endsWith(".lock"))).toHaveLength(200);
    const other = new JsonlThreadStore({ dir });
    for (const threadId of ["thr_s0", "thr_s117", "thr_s199"]) {
      const error = await other.open(threadId).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isTaifengError(error, "thread_locked"), String(error)).toBe(true);
      expect(String((error as Error).message)).toContain(`process ${pid}`);
    }
    expect((await other.read("thr_s5")).length).toBeGreaterThan(3); // reading needs no lock
    await other.close();
  }, 60_000);
});

/** A small seeded generator, so a failing run can be replayed from the logged seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("kill -9 under load with group commit", () => {
  it("loses no acknowledged turn, even when the transcripts also lose what was never fsynced", async () => {
    const seed = Number(process.env.TAIFENG_KILL_SEED ?? Date.now() % 1_000_000);
    const next = random(seed);
    const sessions = 16;
    const acked: Extract<PoolChildMessage, { type: "ack" }>[] = [];
    for (let round = 0; round < 3; round++) {
      // Transcript sizes before this round: a power loss may take everything written after.
      const before = new Map<string, number>();
      for (let i = 0; i < sessions; i++) {
        const path = join(dir, `thr_s${i}.jsonl`);
        if (existsSync(path)) before.set(path, statSync(path).size);
      }
      // No checkpoint during the round: every acknowledged byte is in the log alone.
      const child = startPool({ dir, sessions, turns: null, latencyMs: 2, walCheckpointMs: 600_000 });
      await child.waitFor("ack", 30 + Math.floor(next() * 60));
      await new Promise((r) => setTimeout(r, Math.floor(next() * 40)));
      child.process.kill("SIGKILL");
      expect(await child.exited).toBe("SIGKILL");
      acked.push(...acks(child));
      expect(failures(child), `seed ${seed}`).toEqual([]);
      // Simulated power loss: the page cache of this round is gone (files created in it too).
      for (let i = 0; i < sessions; i++) {
        const path = join(dir, `thr_s${i}.jsonl`);
        const size = before.get(path);
        if (size === undefined) rmSync(path, { force: true });
        else if (existsSync(path)) truncateSync(path, size);
      }
      // The next store on the directory replays the dead process's log before anything else.
      const warnings: string[] = [];
      const store = new JsonlThreadStore({ dir, onWarning: (m) => warnings.push(m) });
      await store.list();
      await store.close();
      expect(
        readdirSync(join(dir, "wal")).filter((n) => n.endsWith(".wal")),
        `seed ${seed}`,
      ).toEqual([]);
      expect(warnings.join("\n")).toMatch(/replayed the write-ahead log/);
      for (const ack of acked) {
        const replay = readAfterCrash(join(dir, `${ack.threadId}.jsonl`)).replay;
        expect(turnHash(replay, ack.turnId), `seed ${seed}: acknowledged turn of ${ack.threadId} lost`).toBe(
          ack.hash,
        );
      }
    }
    // A last clean run resumes every thread: each resume closes the turn the kill cut.
    const last = startPool({ dir, sessions, turns: 1, latencyMs: 1 });
    expect(await last.exited, last.stderr()).toBe(0);
    expect(failures(last)).toEqual([]);
    console.log(
      `kill -9 x3 under load (seed ${seed}): ${acked.length} acknowledged turns kept through simulated power loss`,
    );
  }, 120_000);

  it("loses no acknowledged turn when killed while closing many threads in groups", async () => {
    // Closing releases threads in groups (one syncfs or an fdatasync each, then one log batch
    // of releases). A kill lands inside that; a thread whose lock is still there was not
    // released, so a power loss may take its unsynced pages: they are cut away here. A released
    // thread was durable in place before its lock went.
    const seed = Number(process.env.TAIFENG_KILL_SEED ?? Date.now() % 1_000_000);
    const next = random(seed);
    const sessions = 80;
    const child = startPool({
      dir,
      sessions,
      turns: 1,
      latencyMs: 2,
      walCheckpointMs: 600_000,
      syncfsMin: 16,
    });
    await child.waitFor("closing");
    // Kill once the first group is released (or at once, every other seed), mid-close.
    const lockCount = () => readdirSync(dir).filter((n) => /^thr_s\d+\.lock$/.test(n)).length;
    if (next() < 0.5)
      for (let t = 0; t < 20_000 && lockCount() === sessions && child.process.exitCode === null; t++)
        await new Promise((r) => setTimeout(r, 1));
    child.process.kill("SIGKILL");
    await child.exited;
    expect(failures(child), `seed ${seed}`).toEqual([]);
    const acked = acks(child);
    expect(acked).toHaveLength(sessions);
    // Released: a `release` record in the dead process's log (it is logged only once the
    // transcript is durable in place). Every other thread loses its unsynced pages.
    const released = new Set<string>();
    for (const name of readdirSync(join(dir, "wal")).filter((n) => n.endsWith(".wal")))
      for (const record of decodeSegment(readFileSync(join(dir, "wal", name))).records)
        if (record.kind === "release") released.add(record.threadId);
    let kept = 0;
    for (let i = 0; i < sessions; i++) {
      if (released.has(`thr_s${i}`)) continue;
      kept++;
      rmSync(join(dir, `thr_s${i}.jsonl`), { force: true }); // created this round: all unsynced
    }
    const warnings: string[] = [];
    const store = new JsonlThreadStore({ dir, onWarning: (m) => warnings.push(m) });
    await store.list();
    await store.close();
    if (kept > 0) expect(warnings.join("\n")).toMatch(/replayed the write-ahead log/);
    for (const ack of acked) {
      const replay = readAfterCrash(join(dir, `${ack.threadId}.jsonl`)).replay;
      expect(turnHash(replay, ack.turnId), `seed ${seed}: acknowledged turn of ${ack.threadId} lost`).toBe(
        ack.hash,
      );
    }
    expect(readdirSync(join(dir, "wal")).filter((n) => n.endsWith(".wal"))).toEqual([]);
    console.log(
      `kill -9 while closing (seed ${seed}): ${released.size} of ${sessions} threads released before the kill, none lost`,
    );
  }, 120_000);
});
