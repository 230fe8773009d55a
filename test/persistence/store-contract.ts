/**
 * The ThreadStore contract: what every store (memory, JSONL, PostgreSQL) must do, run by
 * store-contract.test.ts against each of them. A new store passes this suite first.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseTranscript } from "../../src/conversation/jsonl-reader.ts";
import { replayRollout } from "../../src/conversation/replay.ts";
import { forkThread, rewindThread } from "../../src/conversation/thread-ops.ts";
import {
  AgentEngine,
  emptyUsage,
  isTaifengError,
  type ModelRequest,
  type RolloutLine,
  SimClient,
  type ThreadStore,
  textMessage,
} from "../../src/index.ts";
import { digest, FIXTURES } from "./golden.ts";

/** A store under test. `reopen` gives another instance on the same storage (the same one where storage is the instance). */
export interface StoreUnderTest {
  readonly store: ThreadStore;
  reopen(): ThreadStore;
}

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (isTaifengError(err)) return err.code;
    throw err;
  }
  return "no error";
}

const meta = (threadId: string, extra: Record<string, unknown> = {}) => ({
  schemaVersion: 1,
  threadId,
  createdAt: 1000,
  cwd: "/w",
  ...extra,
});

function turn(
  n: number,
  ts: number,
  end: "turn_completed" | "turn_failed" | "open" = "turn_completed",
): RolloutLine[] {
  const lines: RolloutLine[] = [
    { ts, type: "turn_context", payload: { turnId: `turn_${n}` } },
    { ts, type: "response_item", payload: textMessage("user", `question ${n}`) },
    { ts, type: "response_item", payload: textMessage("assistant", `answer ${n}`) },
  ];
  if (end === "turn_completed")
    lines.push({
      ts,
      type: "event",
      payload: {
        msg: {
          type: end,
          steps: 1,
          usage: { ...emptyUsage(), inputTokens: 10, outputTokens: 2 },
          durationMs: 1,
        },
      },
    });
  else if (end === "turn_failed")
    lines.push({
      ts,
      type: "event",
      payload: {
        msg: {
          type: end,
          error: { code: "unknown", message: "x", source: "model" },
          steps: 1,
          usage: emptyUsage(),
          durationMs: 1,
        },
      },
    });
  return lines;
}

async function seed(
  store: ThreadStore,
  threadId: string,
  lines: RolloutLine[],
  extra: Record<string, unknown> = {},
) {
  const writer = await store.create(meta(threadId, extra));
  for (const line of lines) writer.append(line);
  await writer.close();
}

const goldens = readdirSync(join(FIXTURES, "v1"))
  .filter((f) => f.endsWith(".jsonl"))
  .map((f) => ({ name: f.slice(0, -6), path: join(FIXTURES, "v1", f) }));

/** A model that looks a word up after each user message, then answers; records its requests. */
function lookupModel(requests: ModelRequest[]): SimClient {
  return new SimClient({
    script: {
      steps: [
        (request) => {
          requests.push(request);
          const last = request.items.at(-1);
          if (last?.type === "message" && last.role === "user")
            return {
              toolCalls: [{ id: `call_${request.items.length}`, name: "echo", arguments: { text: "x" } }],
            };
          return { text: "Done." };
        },
      ],
      onExhausted: "repeat_last",
    },
  });
}

/** Registers the contract's tests for one store. `make` runs in each test. */
export function storeContract(name: string, make: () => Promise<StoreUnderTest>): void {
  describe(`ThreadStore contract: ${name}`, () => {
    it("stores lines verbatim in order, visible to readers while the writer holds the thread", async () => {
      const { store } = await make();
      const writer = await store.create(meta("t1", { title: "First" }));
      const lines = turn(1, 1001);
      for (const line of lines) writer.append(line);
      await writer.flush();
      const read = await store.read("t1");
      expect(JSON.stringify(read)).toBe(
        JSON.stringify([
          { ts: 1000, type: "thread_meta", payload: meta("t1", { title: "First" }) },
          ...lines,
        ]),
      );
      expect(await store.exists("t1")).toBe(true);
      expect(await store.exists("t2")).toBe(false);
      await writer.close();
      await writer.close(); // idempotent
      expect(() => writer.append(lines[0] as RolloutLine)).toThrow();
    });

    it("allows one writer per thread, in this instance and in another", async () => {
      const { store, reopen } = await make();
      const writer = await store.create(meta("t1"));
      expect(await failure(store.open("t1"))).toBe("thread_locked");
      const other = reopen();
      expect(await failure(other.open("t1"))).toBe("thread_locked");
      expect(await failure(other.delete("t1"))).toBe("thread_locked");
      await writer.close();
      const opened = await other.open("t1");
      expect(opened.lines.map((l) => l.type)).toEqual(["thread_meta"]);
      expect(await failure(store.open("t1"))).toBe("thread_locked");
      await opened.writer.close();
      if (other !== store) await other.close();
    });

    it("names unknown and duplicate threads", async () => {
      const { store } = await make();
      expect(await failure(store.open("nope"))).toBe("thread_not_found");
      expect(await failure(store.read("nope"))).toBe("thread_not_found");
      expect(await failure(store.delete("nope"))).toBe("thread_not_found");
      await (await store.create(meta("t1"))).close();
      expect(await failure(store.create(meta("t1")))).toBe("store_error");
      expect((await store.read("t1")).length).toBe(1); // the refused create changed nothing
    });

    it("deletes a closed thread with its directory row", async () => {
      const { store } = await make();
      await seed(store, "t1", turn(1, 1001));
      await store.delete("t1");
      expect(await store.exists("t1")).toBe(false);
      expect((await store.list()).map((t) => t.threadId)).toEqual([]);
      await (await store.create(meta("t1"))).close(); // the id is free again
    });

    it("close flushes and releases every writer", async () => {
      const { store, reopen } = await make();
      const writer = await store.create(meta("t1"));
      for (const line of turn(1, 1001)) writer.append(line);
      await store.close();
      const other = reopen();
      const opened = await other.open("t1");
      expect(opened.lines).toHaveLength(5);
      await opened.writer.close();
      await other.close();
    });

    it("keeps the directory: turns, status, usage, titles, search, forks, order and limit", async () => {
      const { store } = await make();
      await seed(store, "a", [...turn(1, 2000), ...turn(2, 2001)], { title: "100% done_x" });
      await seed(store, "b", [...turn(1, 3000), ...turn(2, 3001, "turn_failed")]);
      await seed(store, "c", turn(1, 4000, "open"), { parent: { threadId: "a", turns: 1 } });
      const rows = await store.list();
      expect(rows.map((r) => [r.threadId, r.title, r.turns, r.status, r.updatedAt])).toEqual([
        ["c", "question 1", 1, "running", 4000],
        ["b", "question 1", 2, "failed", 3001],
        ["a", "100% done_x", 2, "idle", 2001],
      ]);
      expect(rows[2]?.usage).toMatchObject({ inputTokens: 20, outputTokens: 4 });
      expect(rows[0]).toMatchObject({ parentThreadId: "a", parentTurns: 1, createdAt: 1000 });
      expect((await store.list({ search: "% DONE_" })).map((r) => r.threadId)).toEqual(["a"]);
      expect((await store.list({ search: "_" })).map((r) => r.threadId)).toEqual(["a"]);
      expect((await store.list({ search: "QUESTION" })).map((r) => r.threadId)).toEqual(["c", "b"]);
      expect((await store.list({ parentThreadId: "a" })).map((r) => r.threadId)).toEqual(["c"]);
      expect((await store.list({ limit: 1 })).map((r) => r.threadId)).toEqual(["c"]);
    });

    it("binds sessions to threads, durably: rebind, unbind, a TTL, and deleting the thread drops them", async () => {
      const { store, reopen } = await make();
      const sessions = store.sessions;
      if (!sessions) throw new Error(`${name} has no session bindings`);
      await seed(store, "a", turn(1, 1001));
      await seed(store, "b", turn(1, 1002));
      expect(await sessions.threadOf("s1")).toBeUndefined();
      await sessions.bind("s1", "a");
      await sessions.bind("s2", "a");
      expect(await reopen().sessions?.threadOf("s1")).toBe("a");
      await sessions.bind("s1", "b");
      expect(await sessions.threadOf("s1")).toBe("b");
      await sessions.unbind("s1");
      expect(await sessions.threadOf("s1")).toBeUndefined();
      await new Promise((r) => setTimeout(r, 15));
      expect(await sessions.threadOf("s2", 5)).toBeUndefined(); // unused for longer than the TTL: dropped
      await sessions.bind("s3", "b");
      await store.delete("b");
      expect(await sessions.threadOf("s3")).toBeUndefined();
    });

    it("keeps artifacts with their thread: same content same id, other threads cannot read them, forks get copies", async () => {
      const { store, reopen } = await make();
      const artifacts = store.artifacts;
      if (!artifacts) throw new Error(`${name} keeps no artifacts`);
      await seed(store, "src", [...turn(1, 1001)]);
      await seed(store, "other", turn(1, 1002));
      const meta = { tool: "bash", callId: "call_1" };
      const saved = await artifacts.save("src", "line 1\nline 2\n", meta);
      expect(saved).toMatchObject({ chars: 14, lines: 2 });
      // Durable stores derive the id from thread, call and content (a retried save is a no-op);
      // the memory store numbers its saves.
      if (name !== "memory")
        expect((await artifacts.save("src", "line 1\nline 2\n", meta)).id).toBe(saved.id);
      expect(await reopen().artifacts?.read("src", saved.id)).toBe("line 1\nline 2\n");
      expect(await artifacts.read("other", saved.id)).toBeUndefined();
      await forkThread(store, "src", { threadId: "fork" });
      expect(await artifacts.read("fork", saved.id)).toBe("line 1\nline 2\n");
    });

    it("rewinds (a rollback line, nothing rewritten) and forks with a parent link", async () => {
      const { store } = await make();
      await seed(store, "src", [...turn(1, 1001), ...turn(2, 1002), ...turn(3, 1003)]);
      expect(await rewindThread(store, "src", 1)).toBe(2);
      const lines = await store.read("src");
      expect(lines.at(-1)).toMatchObject({ type: "rollback", payload: { turns: 1 } });
      expect(lines).toHaveLength(14);
      const fork = await forkThread(store, "src", { atTurn: 1, threadId: "fork" });
      expect(fork).toEqual({ threadId: "fork", parentThreadId: "src", turns: 1 });
      expect(replayRollout(await store.read("fork")).turnCount).toBe(1);
      expect((await store.list({ parentThreadId: "src" })).map((r) => [r.threadId, r.parentTurns])).toEqual([
        ["fork", 1],
      ]);
    });

    it.each(goldens)(
      "loads golden transcript v1/$name and replays it as when it was written",
      async ({ name, path }) => {
        const { store, reopen } = await make();
        const parsed = parseTranscript(readFileSync(path), path);
        const [first, ...rest] = parsed.lines;
        if (first?.type !== "thread_meta") throw new Error("golden without thread_meta");
        const writer = await store.create(first.payload);
        for (const line of rest) writer.append(line);
        await writer.close();
        const other = reopen();
        const read = await other.read(name);
        expect(read.map((l) => JSON.stringify(l))).toEqual(parsed.lines.map((l) => JSON.stringify(l)));
        const expected = JSON.parse(readFileSync(path.replace(/\.jsonl$/, ".expected.json"), "utf8"));
        const replay = replayRollout(read);
        expect(replay.turnCount).toBe(expected.turnCount);
        expect(digest(replay.items)).toBe(expected.itemsDigest);
        const [row] = await other.list().then((rows) => rows.filter((r) => r.threadId === name));
        expect(JSON.parse(JSON.stringify(row))).toEqual(expected.info);
        if (other !== store) await other.close();
      },
    );

    it("resumes an engine in another instance with a byte-identical prompt", async () => {
      const { store, reopen } = await make();
      const { defineTool } = await import("../../src/index.ts");
      const { z } = await import("zod");
      const echo = defineTool({
        name: "echo",
        description: "Echoes.",
        schema: z.object({ text: z.string() }),
        readOnly: true,
        execute: ({ text }) => text,
      });
      const straight: ModelRequest[] = [];
      const a = await AgentEngine.open({
        model: lookupModel(straight),
        tools: [echo],
        store,
        threadId: "e1",
      });
      for (const q of ["one", "two", "three"]) await a.submitAndWait(q);
      await a.close();

      const resumed: ModelRequest[] = [];
      const b1 = await AgentEngine.open({
        model: lookupModel(resumed),
        tools: [echo],
        store,
        threadId: "e2",
      });
      for (const q of ["one", "two"]) await b1.submitAndWait(q);
      await b1.close();
      const other = reopen();
      const b2 = await AgentEngine.open({
        model: lookupModel(resumed),
        tools: [echo],
        store: other,
        threadId: "e2",
      });
      await b2.submitAndWait("three");
      await b2.close();
      expect(resumed).toHaveLength(6);
      const strip = (r: ModelRequest) => JSON.stringify(r.items);
      expect(resumed.map(strip)).toEqual(straight.map(strip));
      if (other !== store) await other.close();
    });
  });
}

export { failure };
