// EngineOptions.crashedTurns = "continue": what a worker does with a turn a crash left open.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  AgentEngine,
  defineTool,
  type Event,
  MemoryThreadStore,
  type RolloutLine,
  SimClient,
  textMessage,
} from "../../src/index.ts";

const ran: string[] = [];
const tools = [
  defineTool({
    name: "effect",
    description: "Has an effect.",
    schema: z.object({}),
    execute: (_i, ctx) => {
      ran.push(`effect ${ctx.callId}`);
      return "effect done";
    },
  }),
  defineTool({
    name: "idem",
    description: "Has an idempotent effect.",
    schema: z.object({}),
    idempotent: true,
    execute: (_i, ctx) => {
      ran.push(`idem ${ctx.callId}`);
      return "idem done";
    },
  }),
];

const call = (callId: string, name: string): RolloutLine => ({
  ts: 3,
  type: "response_item",
  payload: { type: "function_call", callId, name, arguments: "{}" },
});

async function crashed(calls: RolloutLine[]): Promise<MemoryThreadStore> {
  const store = new MemoryThreadStore();
  const writer = await store.create({ schemaVersion: 1, threadId: "t", createdAt: 1, cwd: "/" });
  writer.append({ ts: 2, type: "turn_context", payload: { turnId: "turn_1", submissionId: "sub_1" } });
  writer.append({ ts: 2, type: "response_item", payload: textMessage("user", "go") });
  for (const c of calls) writer.append(c);
  await writer.close();
  return store;
}

function shape(events: Event[]): string[] {
  return events.map((e) => {
    const m = e.msg;
    switch (m.type) {
      case "thread_opened":
        return `thread_opened ${m.resumedTurn?.submissionId ?? "-"}`;
      case "tool_call_started":
        return `tool_call_started ${m.callId}`;
      case "tool_call_completed":
        return `tool_call_completed ${m.callId} ${m.status} ${m.output}`;
      case "turn_aborted":
        return `turn_aborted ${m.reason}`;
      default:
        return m.type;
    }
  });
}

async function open(store: MemoryThreadStore, crashedTurns?: "abort" | "continue") {
  const events: Event[] = [];
  const engine = await AgentEngine.open({
    model: new SimClient({ script: [{ text: "finished" }] }),
    tools,
    store,
    threadId: "t",
    ...(crashedTurns ? { crashedTurns } : {}),
    listeners: [(e) => events.push(e)],
  });
  return { engine, events };
}

const cut = "Tool call not completed: the process stopped during the turn.";

describe("a turn a crash left open", () => {
  it("continues under its submission: interrupted calls are answered, trailing idempotent calls run again", async () => {
    ran.length = 0;
    const store = await crashed([call("c1", "effect"), call("c2", "idem")]);
    const { engine, events } = await open(store, "continue");
    await new Promise<void>((resolve) => engine.on((e) => e.msg.type === "turn_completed" && resolve()));
    await engine.close();
    expect(shape(events).filter((s) => s !== "shutdown_complete")).toEqual([
      "thread_opened sub_1",
      "turn_started",
      `tool_call_completed c1 aborted ${cut}`,
      "tool_call_started c2",
      "tool_call_completed c2 ok idem done",
      "model_call_started",
      "assistant_text",
      "assistant_message",
      "model_call_completed",
      "turn_completed",
    ]);
    expect(events.filter((e) => e.msg.type === "turn_completed").map((e) => e.submissionId)).toEqual([
      "sub_1",
    ]);
    expect(ran).toEqual(["idem c2"]);
  });

  it("never runs again an idempotent call that comes before a non-idempotent one (outputs keep call order)", async () => {
    ran.length = 0;
    const store = await crashed([call("c1", "idem"), call("c2", "effect")]);
    const { engine, events } = await open(store, "continue");
    await new Promise<void>((resolve) => engine.on((e) => e.msg.type === "turn_completed" && resolve()));
    await engine.close();
    expect(shape(events).slice(0, 4)).toEqual([
      "thread_opened sub_1",
      "turn_started",
      `tool_call_completed c1 aborted ${cut}`,
      `tool_call_completed c2 aborted ${cut}`,
    ]);
    expect(ran).toEqual([]);
  });

  it("is closed as crashed by default", async () => {
    ran.length = 0;
    const store = await crashed([call("c1", "idem")]);
    const { engine, events } = await open(store);
    await engine.close();
    expect(shape(events).slice(0, 3)).toEqual([
      "thread_opened -",
      `tool_call_completed c1 aborted ${cut}`,
      "turn_aborted crash",
    ]);
    expect(ran).toEqual([]);
  });
});
