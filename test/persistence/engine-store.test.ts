import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  AgentEngine,
  defineTool,
  EnginePool,
  type Event,
  JsonlThreadStore,
  type ModelRequest,
  replayRollout,
  SimClient,
  textMessage,
} from "../../src/index.ts";
import { recorder, shape } from "../helpers/events.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "taifeng-engine-store-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const lookup = defineTool({
  name: "lookup",
  description: "Looks a word up.",
  schema: z.object({ word: z.string() }),
  readOnly: true,
  execute: ({ word }) => `${word}: a short definition`,
});

/** Calls lookup after each user message, then answers; records every request it gets. */
function model(requests: ModelRequest[] = []): SimClient {
  const step = (request: ModelRequest) => {
    requests.push(request);
    const last = request.items.at(-1);
    if (last?.type === "message" && last.role === "user")
      return {
        toolCalls: [{ id: `call_${request.items.length}`, name: "lookup", arguments: { word: "kernel" } }],
      };
    return { text: "Defined." };
  };
  return new SimClient({ name: "t", script: { steps: [step], onExhausted: "repeat_last" } });
}

async function open(threadId: string, events: Event[] = [], requests: ModelRequest[] = []) {
  const store = new JsonlThreadStore({ dir });
  const engine = await AgentEngine.open({
    model: model(requests),
    tools: [lookup],
    store,
    threadId,
    listeners: [(ev) => events.push(ev)],
  });
  return {
    engine,
    store,
    close: async () => {
      await engine.close();
      await store.close();
    },
  };
}

const TURN = [
  "turn_started",
  'user_message input "q"',
  "model_call_started 1",
  "tool_call_started lookup CALL",
  "tool_call_completed lookup CALL ok",
  "model_call_completed 1 tool_calls",
  "model_call_started 2",
  'assistant_text "Defined."',
  'assistant_message "Defined."',
  "model_call_completed 2 stop",
  "turn_completed",
];
const turnShape = (callId: string) => TURN.map((s) => s.replace("CALL", callId));

describe("an engine on the JSONL store", () => {
  it("resumes a thread in a new store with its history, and continues it", async () => {
    const first = await open("thr_r");
    await first.engine.submitAndWait("q");
    await first.engine.submitAndWait("q");
    const items = JSON.stringify(first.engine.items);
    await first.close();

    const events: Event[] = [];
    const requests: ModelRequest[] = [];
    const second = await open("thr_r", events, requests);
    expect(JSON.stringify(second.engine.items)).toBe(items);
    await second.engine.submitAndWait("q");
    await second.close();
    expect(shape(events)).toEqual(["thread_opened", ...turnShape("call_9"), "shutdown_complete"]);
    expect(events[0]?.msg).toEqual({ type: "thread_opened", resumed: true, turns: 2 });
    expect(events.every((e) => e.threadId === "thr_r")).toBe(true);
    expect(JSON.stringify(requests[0]?.items.slice(0, 8))).toBe(items);
  });

  it("closes a turn cut by a crash: synthetic outputs for dangling calls, then turn_aborted", async () => {
    const store = new JsonlThreadStore({ dir });
    const writer = await store.create({ schemaVersion: 1, threadId: "thr_c", createdAt: 1 });
    writer.append({
      ts: 2,
      type: "turn_context",
      payload: { turnId: "turn_x", submissionId: "sub_x", model: "sim:t" },
    });
    writer.append({ ts: 3, type: "response_item", payload: textMessage("user", "q") });
    writer.append({
      ts: 4,
      type: "response_item",
      payload: { type: "function_call", callId: "c1", name: "lookup", arguments: '{"word":"x"}' },
    });
    await writer.close();
    await store.close();
    appendFileSync(join(dir, "thr_c.jsonl"), '{"ts":5,"type":"response_it');

    const events: Event[] = [];
    const resumed = await open("thr_c", events);
    expect(shape(events)).toEqual([
      "thread_opened",
      "warning transcript_repaired",
      "tool_call_completed lookup c1 aborted",
      "turn_aborted crash",
    ]);
    expect(events.slice(2).every((e) => e.turnId === "turn_x" && e.submissionId === "sub_x")).toBe(true);
    expect(resumed.engine.items.at(-1)).toEqual({
      type: "function_call_output",
      callId: "c1",
      output: "Tool call not completed: the process stopped during the turn.",
      isError: true,
    });
    await resumed.close();

    const again: Event[] = [];
    const third = await open("thr_c", again);
    expect(shape(again)).toEqual(["thread_opened"]);
    const replay = replayRollout(await third.store.read("thr_c"));
    expect(replay.turns.map((t) => t.outcome)).toEqual(["aborted"]);
    await third.close();
  });

  it("persists a rewind: the transcript keeps the turn behind a rollback line", async () => {
    const first = await open("thr_w");
    await first.engine.submitAndWait("q");
    const kept = JSON.stringify(first.engine.items);
    await first.engine.submitAndWait("q");
    const rewound = await first.engine.submitAndWait({ type: "rewind", turns: 1 });
    expect(rewound.map((e) => e.msg)).toEqual([{ type: "thread_rewound", turns: 1, remainingTurns: 1 }]);
    await first.close();
    const lines = readFileSync(join(dir, "thr_w.jsonl"), "utf8").trimEnd().split("\n");
    expect(JSON.parse(lines.at(-1) as string)).toMatchObject({ type: "rollback", payload: { turns: 1 } });
    expect(lines.filter((l) => l.includes('"turn_context"'))).toHaveLength(2);

    const events: Event[] = [];
    const second = await open("thr_w", events);
    expect(events[0]?.msg).toEqual({ type: "thread_opened", resumed: true, turns: 1 });
    expect(JSON.stringify(second.engine.items)).toBe(kept);
    await second.close();
  });
});

describe("EnginePool with a storage dir", () => {
  it("brings an evicted session back from disk, and lists its thread", async () => {
    const pool = await EnginePool.create({
      model: model(),
      tools: [lookup],
      storageDir: dir,
      idleTimeoutMs: 0,
    });
    const engine = await pool.getOrCreate({ sessionId: "s1" });
    await engine.submitAndWait("Explain kernels");
    const threadId = engine.threadId;
    expect(await pool.evictIdle(0)).toBe(1);

    const rec = recorder();
    const back = await pool.getOrCreate({ sessionId: "s1", listeners: [rec.listener] });
    expect(back).not.toBe(engine);
    expect(back.threadId).toBe(threadId);
    expect(rec.events[0]?.msg).toEqual({ type: "thread_opened", resumed: true, turns: 1 });
    expect(await pool.threadStore.list()).toEqual([
      expect.objectContaining({ threadId, title: "Explain kernels", turns: 1, status: "idle" }),
    ]);
    await pool.close();
  });
});
