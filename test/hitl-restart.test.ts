import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { MemoryThreadStore } from "../src/conversation/memory-store.ts";
import { replayRollout } from "../src/conversation/replay.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../src/llm/types.ts";
import { AgentEngine, type EngineOptions } from "../src/loop/engine.ts";
import type { Event, EventMsgOf } from "../src/protocol/index.ts";
import { toolOutputText } from "../src/protocol/index.ts";
import { askUserTool } from "../src/tool/builtin/ask_user/index.ts";
import { defineTool } from "../src/tool/define.ts";
import { recorder, shape } from "./helpers/events.ts";
import { driveTurn, recordingShell, recordingWriter, waitFor } from "./helpers/hitl.ts";

let cwd: string;
beforeAll(async () => {
  cwd = await realpath(await mkdtemp(join(tmpdir(), "taifeng-restart-")));
});
afterAll(() => rm(cwd, { recursive: true, force: true }));

/**
 * The first process: opens the thread, starts a turn and stops once it waits on a person
 * with the model's response recorded. "Crashing" = releasing the store's writer behind the
 * engine's back (nothing is closed, no turn end is written), exactly what a killed process
 * leaves behind; the engine object is then abandoned.
 */
async function crashWhileWaiting(
  store: MemoryThreadStore,
  threadId: string,
  options: Partial<EngineOptions> & Pick<EngineOptions, "model">,
  waitType: "permission_requested" | "user_input_requested",
) {
  const rec = recorder();
  const engine = await AgentEngine.open({ store, threadId, cwd, listeners: [rec.listener], ...options });
  const submissionId = engine.submit("go");
  const request = await waitFor(rec.events, waitType);
  await waitFor(rec.events, "model_call_completed");
  await store.close();
  return { submissionId, request: request.msg, events: rec.events };
}

async function reopen(
  store: MemoryThreadStore,
  threadId: string,
  options: Partial<EngineOptions> & Pick<EngineOptions, "model">,
) {
  const rec = recorder();
  const engine = await AgentEngine.open({ store, threadId, cwd, listeners: [rec.listener], ...options });
  return { engine, events: rec.events };
}

const approve =
  (decision: "allow_once" | "deny" = "allow_once") =>
  (req: EventMsgOf<"permission_requested" | "user_input_requested">) =>
    req.type === "permission_requested"
      ? { type: "approval" as const, requestId: req.requestId, decision }
      : undefined;

/** A model step that notes the last tool output it was shown, then answers `text`. */
function recordThen(seen: string[], request: ModelRequest, text: string) {
  seen.push(lastUserFacing(request));
  return { text };
}

function lastUserFacing(request: ModelRequest): string {
  const item = request.items.at(-1);
  return item?.type === "function_call_output" ? toolOutputText(item.output) : "";
}

describe("a turn waiting for approval survives a restart", () => {
  it("re-emits the same request and continues the turn once approved", async () => {
    const store = new MemoryThreadStore();
    const threadId = "thr_approval";
    const ranBefore: string[] = [];
    const before = await crashWhileWaiting(
      store,
      threadId,
      {
        model: new SimClient({
          script: [{ toolCalls: [{ name: "shell", arguments: { command: "npm test" } }] }],
        }),
        tools: [recordingShell(ranBefore)],
        permissions: {},
      },
      "permission_requested",
    );
    const request = before.request as EventMsgOf<"permission_requested">;

    const ran: string[] = [];
    const seen: string[] = [];
    const { engine, events } = await reopen(store, threadId, {
      model: new SimClient({ script: [(req) => recordThen(seen, req, "tests passed")] }),
      tools: [recordingShell(ran)],
      permissions: {},
    });
    const turnId = before.events.find((e) => e.msg.type === "turn_started")?.turnId;
    expect(events[0]?.msg).toEqual({
      type: "thread_opened",
      resumed: true,
      turns: 1,
      resumedTurn: { turnId, submissionId: before.submissionId },
    });
    const turn = await driveTurn(engine, undefined, approve(), before.submissionId);
    expect(shape(turn)).toEqual([
      "turn_started",
      "tool_call_started shell call_1_1",
      "permission_requested",
      "permission_resolved",
      "tool_call_completed shell call_1_1 ok",
      "model_call_started 1",
      'assistant_text "tests "',
      'assistant_text "passed"',
      'assistant_message "tests passed"',
      "model_call_completed 1 stop",
      "turn_completed",
    ]);
    const again = turn.find((e) => e.msg.type === "permission_requested")?.msg;
    expect(again).toEqual(request);
    expect(turn.every((e) => e.submissionId === before.submissionId)).toBe(true);
    expect(ranBefore).toEqual([]);
    expect(ran).toEqual(["npm test"]);
    expect(seen).toEqual(["ran: npm test"]);
    await engine.close();

    const replayed = replayRollout(await store.read(threadId));
    expect(replayed.openTurn).toBeUndefined();
    expect(replayed.items.map((i) => i.type)).toEqual([
      "message",
      "function_call",
      "function_call_output",
      "message",
    ]);
  });

  it("keeps outputs of calls that finished, and closes calls the crash cut off", async () => {
    const store = new MemoryThreadStore();
    const threadId = "thr_mixed";
    const written: string[] = [];
    const hang = defineTool({
      name: "slow_job",
      description: "never finishes",
      schema: z.object({}),
      execute: (_input, ctx) =>
        new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve("stopped"))),
    });
    const calls = [
      { name: "write_file", arguments: { path: "a.txt", content: "x" } },
      { name: "slow_job", arguments: {} },
      { name: "shell", arguments: { command: "make deploy" } },
      { name: "write_file", arguments: { path: "b.txt", content: "y" } },
    ];
    await crashWhileWaiting(
      store,
      threadId,
      {
        model: new SimClient({ script: [{ toolCalls: calls }] }),
        tools: [recordingWriter(written), hang, recordingShell([])],
        permissions: { rules: { allow: ["Edit(./**)", "slow_job"] } },
      },
      "permission_requested",
    );
    expect(written).toEqual(["a.txt"]);

    const ran: string[] = [];
    const { engine } = await reopen(store, threadId, {
      model: new SimClient({ script: [{ text: "ok" }], onExhausted: "repeat_last" }),
      tools: [recordingWriter(written), hang, recordingShell(ran)],
      permissions: { rules: { allow: ["Edit(./**)", "slow_job"] } },
    });
    const next = engine.submit("next"); // queued behind the resumed turn
    const resumedId = (await store.read(threadId)).find((l) => l.type === "turn_context")?.payload as {
      submissionId: string;
    };
    const turn = await driveTurn(engine, undefined, approve(), resumedId.submissionId);
    expect(shape(turn)).toEqual([
      "turn_started",
      "tool_call_completed slow_job call_1_2 aborted",
      "tool_call_started shell call_1_3",
      "tool_call_started write_file call_1_4",
      "permission_requested",
      "permission_resolved",
      "tool_call_completed shell call_1_3 ok",
      "tool_call_completed write_file call_1_4 ok",
      "model_call_started 1",
      'assistant_text "ok"',
      'assistant_message "ok"',
      "model_call_completed 1 stop",
      "turn_completed",
    ]);
    expect(written).toEqual(["a.txt", "b.txt"]);
    expect(ran).toEqual(["make deploy"]);
    expect(shape(await driveTurn(engine, undefined, approve(), next)).at(-1)).toBe("turn_completed");
    await engine.close();
    const outputs = replayRollout(await store.read(threadId)).items.filter(
      (i) => i.type === "function_call_output",
    );
    expect(outputs.map((o) => [o.callId, toolOutputText(o.output).slice(0, 30)])).toEqual([
      ["call_1_1", "wrote a.txt"],
      ["call_1_2", "Tool call not completed: the p"],
      ["call_1_3", "ran: make deploy"],
      ["call_1_4", "wrote b.txt"],
    ]);
  });

  it("resolves the old request by rule when the rules changed meanwhile", async () => {
    const store = new MemoryThreadStore();
    const threadId = "thr_rules";
    const before = await crashWhileWaiting(
      store,
      threadId,
      {
        model: new SimClient({
          script: [{ toolCalls: [{ name: "shell", arguments: { command: "npm test" } }] }],
        }),
        tools: [recordingShell([])],
        permissions: {},
      },
      "permission_requested",
    );
    const ran: string[] = [];
    const { engine } = await reopen(store, threadId, {
      model: new SimClient({ script: [{ text: "ok" }] }),
      tools: [recordingShell(ran)],
      permissions: { rules: { allow: ["Bash(npm test)"] } },
    });
    const turn = await driveTurn(
      engine,
      undefined,
      () => {
        throw new Error("must not ask");
      },
      before.submissionId,
    );
    expect(turn.find((e) => e.msg.type === "permission_resolved")?.msg).toEqual({
      type: "permission_resolved",
      requestId: (before.request as EventMsgOf<"permission_requested">).requestId,
      decision: "allow_once",
      by: "rule",
      reason: "`npm test` matches allow rule Bash(npm test) (cli)",
    });
    expect(ran).toEqual(["npm test"]);
    await engine.close();
  });

  it("closes the turn as crashed when the new engine has no permission policy", async () => {
    const store = new MemoryThreadStore();
    const threadId = "thr_nopolicy";
    await crashWhileWaiting(
      store,
      threadId,
      {
        model: new SimClient({
          script: [{ toolCalls: [{ name: "shell", arguments: { command: "rm -rf x" } }] }],
        }),
        tools: [recordingShell([])],
        permissions: {},
      },
      "permission_requested",
    );
    const ran: string[] = [];
    const { engine, events } = await reopen(store, threadId, {
      model: new SimClient({ script: [{ text: "x" }] }),
      tools: [recordingShell(ran)],
    });
    expect(shape(events)).toEqual([
      "thread_opened",
      "tool_call_completed shell call_1_1 aborted",
      "turn_aborted crash",
    ]);
    expect(ran).toEqual([]);
    await engine.close();
  });
});

describe("a turn waiting on a person survives a graceful shutdown", () => {
  it("suspends instead of aborting on close, and resumes on the next open", async () => {
    const store = new MemoryThreadStore();
    const threadId = "thr_graceful";
    const rec = recorder();
    const first = await AgentEngine.open({
      store,
      threadId,
      cwd,
      listeners: [rec.listener],
      model: new SimClient({ script: [{ toolCalls: [{ name: "shell", arguments: { command: "make" } }] }] }),
      tools: [recordingShell([])],
      permissions: {},
    });
    const submissionId = first.submit("go");
    const request = (await waitFor(rec.events, "permission_requested"))
      .msg as EventMsgOf<"permission_requested">;
    await waitFor(rec.events, "model_call_completed");
    await first.close();
    const tail = rec.events.filter((e) => e.submissionId === submissionId).map((e) => e.msg);
    expect(tail.at(-1)).toEqual({
      type: "turn_aborted",
      reason: "shutdown",
      message: "the engine shut down while the turn waited for a person; reopening the thread resumes it",
      steps: 1,
      usage: expect.anything(),
      durationMs: expect.any(Number),
    });
    const replayed = replayRollout(await store.read(threadId));
    expect(replayed.openTurn?.events.map((m) => m.type)).toEqual([
      "model_call_completed",
      "permission_requested",
    ]);
    expect(replayed.openTurn?.danglingCalls.map((c) => c.callId)).toEqual(["call_1_1"]);

    const ran: string[] = [];
    const { engine } = await reopen(store, threadId, {
      model: new SimClient({ script: [{ text: "built" }] }),
      tools: [recordingShell(ran)],
      permissions: {},
    });
    const turn = await driveTurn(engine, undefined, approve(), submissionId);
    expect(turn.find((e) => e.msg.type === "permission_requested")?.msg).toEqual(request);
    expect(shape(turn).at(-1)).toBe("turn_completed");
    expect(ran).toEqual(["make"]);
    await engine.close();
  });

  it("still aborts a turn that waits on nobody", async () => {
    const store = new MemoryThreadStore();
    const slow = defineTool({
      name: "slow",
      description: "slow",
      schema: z.object({}),
      readOnly: true,
      execute: (_i, ctx) =>
        new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve("x"))),
    });
    const rec = recorder();
    const engine = await AgentEngine.open({
      store,
      threadId: "thr_abort",
      cwd,
      listeners: [rec.listener],
      model: new SimClient({ script: [{ toolCalls: [{ name: "slow", arguments: {} }] }] }),
      tools: [slow],
      permissions: {},
    });
    engine.submit("go");
    await waitFor(rec.events, "tool_call_started");
    await engine.close();
    expect(shape(rec.events).slice(-2)).toEqual(["turn_aborted shutdown", "shutdown_complete"]);
    expect(replayRollout(await store.read("thr_abort")).openTurn).toBeUndefined();
  });
});

describe("a turn waiting on ask_user survives a restart", () => {
  it("re-asks under the same id and hands the answer to the model", async () => {
    const store = new MemoryThreadStore();
    const threadId = "thr_ask";
    const before = await crashWhileWaiting(
      store,
      threadId,
      {
        model: new SimClient({
          script: [
            {
              toolCalls: [
                { name: "ask_user", arguments: { question: "Which env?", options: ["staging", "prod"] } },
              ],
            },
          ],
        }),
        tools: [askUserTool()],
      },
      "user_input_requested",
    );
    const asked = before.request as EventMsgOf<"user_input_requested">;
    expect(asked).toMatchObject({ callId: "call_1_1", question: "Which env?", options: ["staging", "prod"] });
    const seen: string[] = [];
    const { engine } = await reopen(store, threadId, {
      model: new SimClient({ script: [(req) => recordThen(seen, req, "deploying")] }),
      tools: [askUserTool()],
    });
    const turn: Event[] = await driveTurn(
      engine,
      undefined,
      (req) =>
        req.type === "user_input_requested"
          ? { type: "user_input_answer", requestId: req.requestId, answer: "staging" }
          : undefined,
      before.submissionId,
    );
    expect(shape(turn)).toEqual([
      "turn_started",
      "tool_call_started ask_user call_1_1",
      "user_input_requested",
      "tool_call_completed ask_user call_1_1 ok",
      "model_call_started 1",
      'assistant_text "deploying"',
      'assistant_message "deploying"',
      "model_call_completed 1 stop",
      "turn_completed",
    ]);
    expect(turn.find((e) => e.msg.type === "user_input_requested")?.msg).toEqual(asked);
    expect(seen).toEqual(["The user answered: staging"]);
    await engine.close();
  });
});
