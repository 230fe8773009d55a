import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { createRedactor } from "../../src/redact/redactor.ts";
import { attemptsOf, preferencePair } from "../../src/telemetry/preference.ts";
import {
  exportThreadTrace,
  exportTrace,
  TRACE_SCHEMA,
  type TraceRecord,
} from "../../src/telemetry/trace-export.ts";
import { defineTool } from "../../src/tool/define.ts";
import { runCli } from "../helpers/cli-inprocess.ts";

const SECRET = "pa55word-for-the-db-9k2";
const redactor = createRedactor({ env: { DB_PASSWORD: SECRET } });

const lookup = defineTool({
  name: "lookup",
  description: "Looks a key up.",
  schema: z.object({ q: z.string() }),
  readOnly: true,
  execute: ({ q }) => (q === "pw" ? `password=${SECRET}` : `value of ${q}`),
});

let dir: string;
let store: JsonlThreadStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-trace-"));
  store = new JsonlThreadStore({ dir });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function thread(script: object[], prompts: string[]): Promise<string> {
  const engine = await AgentEngine.open({
    model: new SimClient({ name: "eval", script }),
    tools: [lookup],
    store,
    cwd: dir,
  });
  for (const p of prompts) await engine.submitAndWait(p);
  await engine.close();
  return engine.threadId;
}

const zero = {
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
};
const text = (role: string, t: string) => ({ type: "message", role, content: [{ type: "text", text: t }] });

describe("exportTrace", () => {
  it("exports each model call's request and response, tool results and turn outcomes, redacted", async () => {
    const id = await thread(
      [
        {
          toolCalls: [{ name: "lookup", arguments: { q: "pw" } }],
          usage: { inputTokens: 30, outputTokens: 5 },
        },
        { text: ["It is set."], usage: { inputTokens: 40, outputTokens: 4 } },
        { error: { code: "auth" } },
      ],
      ["find the password", "again"],
    );
    const records = await exportThreadTrace(store, id, { redactor });
    const call = {
      type: "function_call",
      callId: "call_1_1",
      name: "lookup",
      arguments: '{"q":"pw"}',
    };
    const output = {
      type: "function_call_output",
      callId: "call_1_1",
      output: "password=[REDACTED:DB_PASSWORD]",
    };
    expect(records.map(({ ...r }) => ("durationMs" in r ? { ...r, durationMs: 0 } : r))).toEqual([
      { type: "thread", schema: TRACE_SCHEMA, threadId: id, createdAt: expect.any(Number) },
      {
        type: "model_call",
        turnId: expect.any(String),
        turn: 1,
        call: 1,
        model: "sim:eval",
        request: { items: [text("user", "find the password")] },
        response: { items: [call] },
        step: 1,
        finishReason: "tool_calls",
        usage: { ...zero, inputTokens: 30, outputTokens: 5 },
        durationMs: 0,
      },
      {
        type: "tool_result",
        turnId: expect.any(String),
        turn: 1,
        callId: "call_1_1",
        name: "lookup",
        arguments: '{"q":"pw"}',
        output: "password=[REDACTED:DB_PASSWORD]",
        isError: false,
      },
      {
        type: "model_call",
        turnId: expect.any(String),
        turn: 1,
        call: 2,
        model: "sim:eval",
        request: { items: [text("user", "find the password"), call, output] },
        response: { items: [text("assistant", "It is set.")] },
        step: 2,
        finishReason: "stop",
        usage: { ...zero, inputTokens: 40, outputTokens: 4 },
        durationMs: 0,
      },
      {
        type: "turn",
        turnId: expect.any(String),
        turn: 1,
        model: "sim:eval",
        outcome: "completed",
        text: "It is set.",
        steps: 2,
        usage: {
          inputTokens: 70,
          cachedInputTokens: 0,
          cacheWriteTokens: 0,
          outputTokens: 9,
          reasoningTokens: 0,
        },
        durationMs: 0,
      },
      {
        // The call that failed before any output: its input, no response, its error.
        type: "model_call",
        turnId: expect.any(String),
        turn: 2,
        call: 1,
        model: "sim:eval",
        request: {
          items: [
            text("user", "find the password"),
            call,
            output,
            text("assistant", "It is set."),
            text("user", "again"),
          ],
        },
        response: { items: [] },
        step: 1,
        finishReason: "error",
        usage: zero,
        durationMs: 0,
        error: expect.objectContaining({ code: "auth", source: "model" }),
      },
      {
        type: "turn",
        turnId: expect.any(String),
        turn: 2,
        model: "sim:eval",
        outcome: "failed",
        error: expect.objectContaining({ code: "auth", source: "model" }),
        steps: 1,
        usage: expect.any(Object),
        durationMs: 0,
      },
    ]);
    expect(JSON.stringify(records)).not.toContain(SECRET);
  });

  it("with history: delta, each call carries only what was added since the previous one", async () => {
    const id = await thread(
      [{ toolCalls: [{ name: "lookup", arguments: { q: "a" } }] }, { text: ["done"] }],
      ["go"],
    );
    const calls = exportTrace(await store.read(id), { redactor, history: "delta" }).filter(
      (r): r is Extract<TraceRecord, { type: "model_call" }> => r.type === "model_call",
    );
    expect(calls.map((c) => [c.request.omitted, c.request.items.map((i) => i.type)])).toEqual([
      [0, ["message"]],
      [2, ["function_call_output"]],
    ]);
  });

  it("taifeng threads export ID --format jsonl prints the same records, one per line", async () => {
    const id = await thread([{ text: ["hello"] }], ["hi"]);
    await store.close();
    const run = await runCli(["threads", "export", id, "--format", "jsonl", "--storage", dir], {
      cwd: dir,
      env: { DB_PASSWORD: SECRET },
    });
    expect(run.code).toBe(0);
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as TraceRecord);
    expect(lines.map((r) => r.type)).toEqual(["thread", "model_call", "turn"]);
    expect(lines[2]).toMatchObject({ outcome: "completed", text: "hello" });
    const missing = await runCli(["threads", "export", "thr_nope", "--storage", dir], { cwd: dir, env: {} });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no thread thr_nope");
    const format = await runCli(["threads", "export", id, "--format", "csv", "--storage", dir], {
      cwd: dir,
      env: {},
    });
    expect(format.code).toBe(2);
    expect(format.stderr).toContain("--format must be jsonl");
  });
});

describe("preferencePair", () => {
  const attempt = async (answer: string) => {
    const id = await thread(
      [{ toolCalls: [{ name: "lookup", arguments: { q: "answer" } }] }, { text: [answer] }],
      ["What is the answer?"],
    );
    const [one] = attemptsOf(await exportThreadTrace(store, id, { redactor }));
    if (!one) throw new Error("no attempt");
    return one;
  };
  const check = (a: { text: string }) => a.text.includes("42");

  it("labels two attempts with the host's deterministic check", async () => {
    const good = await attempt("The answer is 42.");
    const bad = await attempt("I do not know.");
    const pair = preferencePair(bad, good, check);
    expect(pair).toEqual({
      prompt: [text("user", "What is the answer?")],
      chosen: [
        { type: "function_call", callId: "call_1_1", name: "lookup", arguments: '{"q":"answer"}' },
        { type: "function_call_output", callId: "call_1_1", output: "value of answer" },
        text("assistant", "The answer is 42."),
      ],
      rejected: [
        { type: "function_call", callId: "call_1_1", name: "lookup", arguments: '{"q":"answer"}' },
        { type: "function_call_output", callId: "call_1_1", output: "value of answer" },
        text("assistant", "I do not know."),
      ],
      scores: { chosen: 1, rejected: 0 },
    });
  });

  it("returns nothing for a tie and refuses attempts at different prompts", async () => {
    const a = await attempt("42");
    const b = await attempt("42 again");
    expect(preferencePair(a, b, check)).toBeUndefined();
    const id = await thread([{ text: ["x"] }], ["another task"]);
    const [other] = attemptsOf(await exportThreadTrace(store, id, { redactor }));
    expect(() => preferencePair(a, other as never, check)).toThrow(/same prompt/);
  });
});
