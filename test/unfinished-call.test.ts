import { describe, expect, it } from "vitest";
import { ResponseAssembler } from "../src/llm/assemble.ts";
import type { ModelEvent } from "../src/llm/types.ts";
import { echoTool, simEngine } from "./helpers/engine.ts";
import { shape } from "./helpers/events.ts";

/**
 * A model stream that starts a tool call and finishes without ending it: the call is never
 * dropped and never run. It stays in the history with an error output the model reads, the
 * host sees a warning, and the turn goes on.
 */

const cutCall: ModelEvent[] = [
  { type: "text_delta", delta: "Checking." },
  { type: "tool_call_start", callId: "c1", name: "echo" },
  { type: "tool_call_delta", callId: "c1", delta: '{"v": "a' },
  { type: "finish", reason: "length" },
];

describe("a tool call the stream never ended", () => {
  it("is kept and answered with a readable error; the model calls again", async () => {
    const { engine, events } = await simEngine(
      [
        { events: cutCall },
        { toolCalls: [{ id: "c2", name: "echo", arguments: { v: "again" } }] },
        { text: "done" },
      ],
      { tools: [echoTool()] },
    );
    await engine.submitAndWait("go");
    await engine.close();
    expect(shape(events)).toEqual([
      "thread_opened",
      "turn_started",
      'user_message input "go"',
      "model_call_started 1",
      'assistant_text "Checking."',
      'assistant_message "Checking."',
      "model_call_completed 1 length",
      "warning tool_call_unfinished",
      "tool_call_started echo c1",
      "tool_call_completed echo c1 invalid_input",
      "model_call_started 2",
      "tool_call_started echo c2",
      "tool_call_completed echo c2 ok",
      "model_call_completed 2 tool_calls",
      "model_call_started 3",
      'assistant_text "done"',
      'assistant_message "done"',
      "model_call_completed 3 stop",
      "turn_completed",
      "shutdown_complete",
    ]);
    const history = engine.items.slice(1, 4);
    expect(history).toEqual([
      { type: "message", role: "assistant", content: [{ type: "text", text: "Checking." }] },
      { type: "function_call", callId: "c1", name: "echo", arguments: '{"v": "a' },
      {
        type: "function_call_output",
        callId: "c1",
        isError: true,
        output:
          "Tool call not run: the response reached its output token limit before the call's arguments were complete. Call echo again with complete arguments.",
      },
    ]);
  });

  it("the assembler reports it as unfinished, not as a call to run", () => {
    const a = new ResponseAssembler();
    for (const ev of cutCall) expect(a.push(ev)).toBeUndefined();
    const res = a.result();
    expect(res.calls).toEqual([]);
    expect(res.unfinished).toEqual([
      { type: "function_call", callId: "c1", name: "echo", arguments: '{"v": "a' },
    ]);
    expect(res.items.at(-1)).toBe(res.unfinished[0]);
  });
});
