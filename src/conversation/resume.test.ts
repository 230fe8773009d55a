import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ResponseItem, RolloutLine, Usage } from "../protocol/index.ts";
import { textMessage } from "../protocol/index.ts";
import { decodeResumePoint } from "./checkpoint.ts";
import { type JsonlStoreOptions, JsonlThreadStore } from "./jsonl-store.ts";
import { replayRollout } from "./replay.ts";
import type { ThreadMeta, ThreadWriter } from "./store.ts";
import { summarizeThread } from "./summary.ts";
import { forkThread } from "./thread-ops.ts";

/** A JSONL store that remembers what each resume read (the engine's open path). */
class CountingStore extends JsonlThreadStore {
  readonly resumes: { lineCount: number; linesRead: number }[] = [];
  override async resume(threadId: string) {
    const resumed = await super.resume(threadId);
    this.resumes.push({ lineCount: resumed.lineCount, linesRead: resumed.linesRead });
    return resumed;
  }
}

let dir: string;
let stores: JsonlThreadStore[] = [];
let warnings: string[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "taifeng-resume-"));
  warnings = [];
});
afterEach(async () => {
  for (const store of stores) await store.close().catch(() => {});
  stores = [];
  rmSync(dir, { recursive: true, force: true });
});

function makeStore(options: Partial<JsonlStoreOptions> = {}): JsonlThreadStore {
  const store = new JsonlThreadStore({ dir, onWarning: (m) => warnings.push(m), ...options });
  stores.push(store);
  return store;
}

const meta = (threadId: string): ThreadMeta => ({ schemaVersion: 1, threadId, createdAt: 1_000, title: "t" });

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const usage = (n: number): Usage => ({
  inputTokens: n,
  cachedInputTokens: n % 3,
  cacheWriteTokens: 0,
  outputTokens: n % 7,
  reasoningTokens: 0,
});

/**
 * Appends `count` random lines: turns (some left open across checkpoints), calls with and
 * without outputs, pending permission requests, turn ends of every kind (with and without
 * ids), checkpoints (between and inside turns) and rollbacks.
 */
function randomLines(
  writer: ThreadWriter,
  random: () => number,
  count: number,
  state: { ts: number; n: number },
) {
  let openTurn: string | undefined;
  const calls: string[] = [];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const add = (line: Omit<RolloutLine, "ts">) => writer.append({ ts: state.ts++, ...line } as RolloutLine);
  for (let i = 0; i < count; i++) {
    const n = state.n++;
    const r = random();
    if (!openTurn && r < 0.6) {
      openTurn = `turn_${n}`;
      const payload: Record<string, string> = { turnId: openTurn };
      if (random() < 0.5) payload.submissionId = `sub_${n}`;
      if (random() < 0.3) payload.model = pick(["sim:a", "sim:b"]);
      if (random() < 0.2) payload.cwd = pick(["/w", "/x"]);
      if (random() < 0.1) payload.permissionMode = "ask";
      add({ type: "turn_context", payload } as Omit<RolloutLine, "ts">);
    } else if (r < 0.75) {
      const callId = `call_${n}`;
      const item: ResponseItem =
        random() < 0.4
          ? textMessage(random() < 0.5 ? "user" : "assistant", `message ${n}`)
          : random() < 0.6 || calls.length === 0
            ? { type: "function_call", callId, name: "lookup", arguments: `{"q":${n}}` }
            : { type: "function_call_output", callId: pick(calls), output: `out ${n}` };
      if (item.type === "function_call") calls.push(callId);
      add({ type: "response_item", payload: item });
    } else if (r < 0.82) {
      const requestId = `req_${n}`;
      const msg =
        random() < 0.6
          ? { type: "permission_requested", requestId, callId: "c", tool: "bash", input: {}, suggestions: [] }
          : { type: "warning", code: "w", message: `warning ${n}` };
      add({
        type: "event",
        payload: random() < 0.3 && openTurn ? { msg, turnId: openTurn } : { msg },
      } as Omit<RolloutLine, "ts">);
    } else if (r < 0.9) {
      const kind = pick(["turn_completed", "turn_completed", "turn_failed", "turn_aborted"] as const);
      const msg =
        kind === "turn_completed"
          ? { type: kind, steps: 1, usage: usage(n), durationMs: 1 }
          : kind === "turn_failed"
            ? {
                type: kind,
                steps: 1,
                usage: usage(n),
                error: { code: "model_error", message: "m", source: "model" },
                durationMs: 1,
              }
            : {
                type: kind,
                reason: "interrupt",
                message: "stopped",
                steps: 1,
                usage: usage(n),
                durationMs: 1,
              };
      const payload = random() < 0.3 && openTurn ? { msg, turnId: openTurn } : { msg };
      add({ type: "event", payload } as Omit<RolloutLine, "ts">);
      openTurn = undefined;
    } else if (r < 0.96) {
      // A checkpoint, between turns or inside one (compaction mid-turn).
      const replacementHistory: ResponseItem[] = [textMessage("user", `summary ${n}`)];
      if (random() < 0.5 && calls.length > 0)
        replacementHistory.push({
          type: "function_call",
          callId: pick(calls),
          name: "lookup",
          arguments: "{}",
        });
      add({ type: "compacted", payload: { strategy: "test", replacementHistory, summary: `s${n}` } });
    } else {
      add({ type: "rollback", payload: { turns: 1 + Math.floor(random() * 3) } });
      openTurn = undefined;
    }
  }
}

/** Resumes, checks the state equals a full replay and the row equals a full summary, closes. */
async function resumeAndCheck(store: JsonlThreadStore, threadId: string) {
  const resumed = await store.resume(threadId);
  const lines = await store.read(threadId);
  expect(resumed.replayed).toEqual(replayRollout(lines));
  expect(resumed.lineCount).toBe(lines.length);
  return { resumed, lines };
}

describe("resuming from the latest checkpoint", () => {
  it("gives exactly a full replay (history, usage, open turn, pending calls, rollbacks) over many random transcripts", async () => {
    let fromCheckpoint = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const random = rng(seed);
      const threadId = `thr_${seed}`;
      const state = { ts: 2_000, n: 0 };
      let store = makeStore();
      const writer = await store.create(meta(threadId));
      randomLines(writer, random, 60, state);
      await writer.close();
      // Three generations: resume, write more, close; the next store resumes again.
      for (let gen = 0; gen < 3; gen++) {
        await store.close();
        store = makeStore();
        const { resumed, lines } = await resumeAndCheck(store, threadId);
        const lastCheckpoint = lines.findLastIndex((l) => l.type === "compacted");
        if (lastCheckpoint > 0) {
          expect(resumed.linesRead).toBe(1 + lines.length - lastCheckpoint);
          fromCheckpoint++;
        } else expect(resumed.linesRead).toBe(lines.length);
        randomLines(resumed.writer, random, 40, state);
        await resumed.writer.close();
        expect(await store.info(threadId)).toEqual(summarizeThread(await store.read(threadId)));
      }
      // open() still returns every line, though a checkpoint is recorded.
      const opened = await store.open(threadId);
      expect(opened.lines).toEqual(await store.read(threadId));
      await opened.writer.close();
    }
    expect(fromCheckpoint).toBeGreaterThan(60); // most runs really started at a checkpoint
    expect(warnings).toEqual([]);
  });

  it("reads whole, with a warning, when the recorded checkpoint does not match the file", async () => {
    let store = makeStore();
    const writer = await store.create(meta("thr_x"));
    randomLines(writer, rng(7), 80, { ts: 2_000, n: 0 });
    writer.append({ ts: 9_000, type: "compacted", payload: { strategy: "test", replacementHistory: [] } });
    writer.append({ ts: 9_001, type: "response_item", payload: textMessage("user", "after") });
    await writer.close();
    await store.close();
    const db = new DatabaseSync(join(dir, "index.sqlite"));
    const stored = decodeResumePoint(
      (db.prepare("SELECT resume FROM threads WHERE id = 'thr_x'").get() as { resume: string }).resume,
    );
    expect(stored?.line).toBeGreaterThan(1);
    // A checkpoint of another file: same offset, another CRC.
    db.prepare("UPDATE threads SET resume = ? WHERE id = 'thr_x'").run(
      JSON.stringify({ v: 1, ...stored, crc: ((stored?.crc ?? 0) + 1) >>> 0 }),
    );
    db.close();
    store = makeStore();
    const { resumed, lines } = await resumeAndCheck(store, "thr_x");
    expect(resumed.linesRead).toBe(lines.length);
    expect(warnings.join("\n")).toMatch(/checkpoint recorded for thread thr_x does not match/);
    await resumed.writer.close();
    // The full read recorded the right checkpoint again.
    await store.close();
    store = makeStore();
    const again = await resumeAndCheck(store, "thr_x");
    expect(again.resumed.linesRead).toBe(3);
    await again.resumed.writer.close();
  });

  it("cuts a torn line after the checkpoint, as a full open does", async () => {
    let store = makeStore();
    const writer = await store.create(meta("thr_t"));
    writer.append({ ts: 2, type: "turn_context", payload: { turnId: "a" } });
    writer.append({ ts: 3, type: "compacted", payload: { strategy: "test", replacementHistory: [] } });
    writer.append({ ts: 4, type: "response_item", payload: textMessage("user", "kept") });
    await writer.close();
    await store.close();
    const path = join(dir, "thr_t.jsonl");
    const whole = readFileSync(path, "utf8");
    appendFileSync(path, '{"ts":5,"type":"respo');
    store = makeStore();
    const { resumed, lines } = await resumeAndCheck(store, "thr_t");
    expect(resumed.linesRead).toBe(3);
    expect(resumed.warnings.join()).toMatch(/incomplete line/);
    expect(readFileSync(path, "utf8")).toBe(whole);
    expect(lines.at(-1)).toMatchObject({ type: "response_item" });
    await resumed.writer.close();
  });

  it("keeps a turn waiting on a person across a checkpoint (suspended, its request re-emitted)", async () => {
    let store = makeStore();
    const writer = await store.create(meta("thr_w"));
    const asked = {
      type: "permission_requested",
      requestId: "req_1",
      callId: "c1",
      tool: "bash",
      input: { command: "ls" },
      suggestions: [] as string[],
    } as const;
    writer.append({ ts: 2, type: "turn_context", payload: { turnId: "a", submissionId: "sub_a" } });
    writer.append({
      ts: 3,
      type: "response_item",
      payload: { type: "function_call", callId: "c1", name: "bash", arguments: "{}" },
    });
    writer.append({ ts: 4, type: "event", payload: { msg: asked } });
    writer.append({
      ts: 5,
      type: "compacted",
      payload: {
        strategy: "t",
        replacementHistory: [{ type: "function_call", callId: "c1", name: "bash", arguments: "{}" }],
      },
    });
    await writer.close();
    await store.close();
    store = makeStore();
    const { resumed } = await resumeAndCheck(store, "thr_w");
    expect(resumed.linesRead).toBe(2);
    expect(resumed.replayed.openTurn).toMatchObject({ turnId: "a", submissionId: "sub_a", events: [asked] });
    expect(resumed.replayed.openTurn?.danglingCalls.map((c) => c.callId)).toEqual(["c1"]);
    resumed.writer.append({ ts: 6, type: "response_item", payload: textMessage("assistant", "waiting") });
    await resumed.writer.close();
    expect((await store.info("thr_w"))?.status).toBe("suspended");
  });

  it("resumes a fork (its copied checkpoint recorded by its writer) as a full replay would", async () => {
    const store = makeStore();
    const writer = await store.create(meta("thr_src"));
    writer.append({ ts: 2, type: "turn_context", payload: { turnId: "a" } });
    writer.append({
      ts: 3,
      type: "compacted",
      payload: { strategy: "t", replacementHistory: [textMessage("user", "s")] },
    });
    writer.append({
      ts: 4,
      type: "event",
      payload: { msg: { type: "turn_completed", steps: 1, usage: usage(5), durationMs: 1 } },
    });
    writer.append({ ts: 5, type: "turn_context", payload: { turnId: "b" } });
    writer.append({ ts: 6, type: "response_item", payload: textMessage("user", "two") });
    writer.append({
      ts: 7,
      type: "event",
      payload: { msg: { type: "turn_completed", steps: 1, usage: usage(9), durationMs: 1 } },
    });
    await writer.close();
    const fork = await forkThread(store, "thr_src", { atTurn: 2, threadId: "thr_fork" });
    expect(fork.turns).toBe(2);
    const { resumed } = await resumeAndCheck(store, "thr_fork");
    expect(resumed.linesRead).toBeLessThan(resumed.lineCount);
    await resumed.writer.close();
  });

  it("is how an engine reopens a thread: from the checkpoint, with the history of a full replay", async () => {
    const { AgentEngine } = await import("../loop/engine.ts");
    const { SimClient } = await import("../llm/sim/sim-client.ts");
    const seeded = makeStore();
    const writer = await seeded.create(meta("thr_e"));
    randomLines(writer, rng(11), 120, { ts: 2_000, n: 0 });
    writer.append({
      ts: 9_000,
      type: "compacted",
      payload: { strategy: "t", replacementHistory: [textMessage("user", "s")] },
    });
    writer.append({ ts: 9_001, type: "turn_context", payload: { turnId: "last" } });
    writer.append({ ts: 9_002, type: "response_item", payload: textMessage("user", "after the checkpoint") });
    writer.append({
      ts: 9_003,
      type: "event",
      payload: { msg: { type: "turn_completed", steps: 1, usage: usage(1), durationMs: 1 } },
    });
    await writer.close();
    await seeded.close();
    const store = new CountingStore({ dir });
    stores.push(store);
    const engine = await AgentEngine.open({
      store,
      threadId: "thr_e",
      model: new SimClient({ script: [{ text: "ok" }] }),
    });
    const full = replayRollout(await store.read("thr_e"));
    expect(engine.items).toEqual(full.items);
    expect(store.resumes).toEqual([{ lineCount: expect.any(Number), linesRead: 5 }]);
    expect(store.resumes[0]?.lineCount).toBeGreaterThan(100);
    await engine.close();
  });

  it("migrates a version 2 directory in place, keeping its session bindings", async () => {
    const db = new DatabaseSync(join(dir, "index.sqlite"));
    db.exec(`CREATE TABLE threads (id TEXT PRIMARY KEY, title TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
      turns INTEGER NOT NULL, status TEXT NOT NULL, input_tokens INTEGER NOT NULL, cached_input_tokens INTEGER NOT NULL,
      cache_write_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
      parent_id TEXT, parent_turns INTEGER, file_bytes INTEGER NOT NULL);
      CREATE TABLE sessions (session_id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, bound_at INTEGER NOT NULL, used_at INTEGER NOT NULL);
      INSERT INTO sessions VALUES ('s1', 'thr_kept', 1, 1);
      PRAGMA user_version = 2;`);
    db.close();
    const store = makeStore();
    expect(await store.sessions?.threadOf("s1")).toBe("thr_kept");
    const writer = await store.create(meta("thr_m"));
    writer.append({ ts: 3, type: "compacted", payload: { strategy: "t", replacementHistory: [] } });
    await writer.close();
    await store.close();
    const again = makeStore();
    const { resumed } = await resumeAndCheck(again, "thr_m");
    expect(resumed.linesRead).toBe(2);
    await resumed.writer.close();
    expect(warnings).toEqual([]);
  });
});
