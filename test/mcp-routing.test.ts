import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { McpManager } from "../src/mcp/manager.ts";
import type { Event, EventMsgOf } from "../src/protocol/index.ts";
import { shape } from "./helpers/events.ts";
import { driveTurn } from "./helpers/hitl.ts";
import { entries, nodeServer } from "./helpers/mcp.ts";

// A server's question goes to the tool call that asked, also when other calls to the same
// server are in flight. Over stdio a 2025-era server's request carries nothing that names
// its call, so such calls are admitted one at a time. (Over HTTP and with the 2026 protocol
// the question arrives in the call's own context; mcp-http.test.ts covers HTTP elicitation.)

const FAULT = join(import.meta.dirname, "fixtures", "mcp", "fault-server.ts");
let mcp: McpManager | undefined;
const engines: AgentEngine[] = [];

afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  await mcp?.close();
  mcp = undefined;
});

async function engineCalling(
  m: McpManager,
  threadId: string,
  call: { name: string; arguments: Record<string, unknown> },
) {
  const model = new SimClient({
    script: [{ toolCalls: [{ id: `${threadId}_c`, ...call }] }, { text: "done" }],
  });
  const engine = await AgentEngine.open({ model, threadId, cwd: "/tmp", ...m.engineOptions() });
  engines.push(engine);
  return engine;
}

const asked = (events: Event[]) =>
  events
    .filter((e) => e.msg.type === "user_input_requested")
    .map((e) => e.msg as EventMsgOf<"user_input_requested">);

const output = (events: Event[]) =>
  (
    events.find((e) => e.msg.type === "tool_call_completed")?.msg as
      | EventMsgOf<"tool_call_completed">
      | undefined
  )?.output;

describe("MCP elicitation routing with several calls in flight", () => {
  it("stdio, 2025 protocol: the question reaches the thread whose call asked, not the latest call", async () => {
    mcp = await McpManager.open({ servers: entries({ fault: nodeServer(FAULT) }) });
    const state = mcp.status()[0]?.state;
    expect(state?.status === "ready" && state.protocolVersion).toBe("2025-11-25");
    const a = await engineCalling(mcp, "thr_a", {
      name: "mcp__fault__ask",
      arguments: { label: "A", delayMs: 400 },
    });
    const b = await engineCalling(mcp, "thr_b", { name: "mcp__fault__sleep", arguments: { ms: 800 } });
    const order: string[] = [];
    const turnA = driveTurn(a, "ask me", (msg) => {
      order.push(`asked ${msg.type === "user_input_requested" ? msg.question.split("\n")[0] : "?"}`);
      return msg.type === "user_input_requested"
        ? { type: "user_input_answer", requestId: msg.requestId, answer: "from A's user" }
        : undefined;
    }).then((ev) => {
      order.push("A done");
      return ev;
    });
    // B's call starts while A's call is waiting to ask (A asks 400 ms in).
    await new Promise((r) => setTimeout(r, 100));
    const turnB = driveTurn(b, "sleep", (msg) => {
      order.push(`B was asked: ${msg.type}`);
      return undefined;
    }).then((ev) => {
      order.push("B done");
      return ev;
    });
    const [eventsA, eventsB] = await Promise.all([turnA, turnB]);

    expect(asked(eventsB)).toEqual([]);
    const questions = asked(eventsA);
    expect(questions.map((q) => [q.callId, q.question.split("\n")[0]])).toEqual([
      ["thr_a_c", 'MCP server "fault" asks: question from A'],
    ]);
    expect(output(eventsA)).toBe('A got accept: {"reply":"from A\'s user"}');
    expect(output(eventsB)).toBe("slept 800");
    expect(shape(eventsB).filter((l) => l.startsWith("tool_call") || l.startsWith("turn_"))).toEqual([
      "turn_started",
      "tool_call_started mcp__fault__sleep thr_b_c",
      "tool_call_completed mcp__fault__sleep thr_b_c ok",
      "turn_completed",
    ]);
    // B's call waited for A's: the server saw one call at a time.
    expect(order).toEqual(['asked MCP server "fault" asks: question from A', "A done", "B done"]);
  }, 30_000);
});
