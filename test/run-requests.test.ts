import { afterEach, describe, expect, it } from "vitest";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { type RunStream, run, stream } from "../src/loop/run.ts";
import { type ResponseItem, toolOutputText } from "../src/protocol/index.ts";
import { builtinTools } from "../src/tool/builtin/index.ts";
import { shape } from "./helpers/events.ts";
import { recordingShell } from "./helpers/hitl.ts";

/**
 * run() and stream() never wait on a request nobody can answer: without a way to answer,
 * approvals are denied and ask_user questions get a model-readable "no one can answer";
 * with `onRequest` (both) or `interactive` (stream) the caller answers them.
 */

// A hang is the failure this suite guards against: fail in a second, not at the test timeout.
function within<T>(promise: Promise<T>, ms = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

let closeTools: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closeTools?.();
  closeTools = undefined;
});

function askUser() {
  const tools = builtinTools({ only: ["ask_user"] });
  closeTools = tools.close;
  return tools.tools;
}

const askingModel = () =>
  new SimClient({
    script: [
      { toolCalls: [{ id: "c1", name: "ask_user", arguments: { question: "Which colour?" } }] },
      { text: "ok" },
    ],
  });

const shellCall = (command: string) =>
  new SimClient({
    script: [{ toolCalls: [{ id: "c1", name: "shell", arguments: { command } }] }, { text: "done" }],
  });

function outputOf(items: readonly ResponseItem[], callId: string): string {
  const item = items.find((i) => i.type === "function_call_output" && i.callId === callId);
  if (item?.type !== "function_call_output") throw new Error(`no output for ${callId}`);
  return toolOutputText(item.output);
}

describe("run() with nobody to answer", () => {
  it("answers ask_user with a model-readable refusal instead of hanging (no permissions option)", async () => {
    const result = await within(run("go", { model: askingModel(), tools: askUser() }));
    expect(shape(result.events)).toEqual([
      "turn_started",
      'user_message input "go"',
      "model_call_started 1",
      "tool_call_started ask_user c1",
      "model_call_completed 1 tool_calls",
      "tool_call_completed ask_user c1 error",
      "model_call_started 2",
      'assistant_text "ok"',
      'assistant_message "ok"',
      "model_call_completed 2 stop",
      "turn_completed",
    ]);
    expect(outputOf(result.items, "c1")).toContain("No user can answer questions in this session");
  });

  it("denies an approval at once even when permissions.interactive says true", async () => {
    const ran: string[] = [];
    const result = await within(
      run("go", {
        model: shellCall("make deploy"),
        tools: [recordingShell(ran)],
        permissions: { interactive: true },
      }),
    );
    expect(ran).toEqual([]);
    expect(result.text).toBe("done");
    expect(outputOf(result.items, "c1")).toMatch(/no one (can|could) approve|nobody/i);
  });
});

describe("run() with onRequest", () => {
  it("answers approvals and questions in code, in the order they come", async () => {
    const ran: string[] = [];
    const seen: string[] = [];
    const model = new SimClient({
      script: [
        { toolCalls: [{ id: "c1", name: "shell", arguments: { command: "make deploy" } }] },
        { toolCalls: [{ id: "c2", name: "ask_user", arguments: { question: "Which colour?" } }] },
        { text: "done" },
      ],
    });
    const result = await within(
      run("go", {
        model,
        tools: [recordingShell(ran), ...askUser()],
        permissions: {},
        onRequest: async (request) => {
          seen.push(request.type);
          return request.type === "permission_requested" ? { decision: "allow_once" } : { answer: "blue" };
        },
      }),
    );
    expect(seen).toEqual(["permission_requested", "user_input_requested"]);
    expect(ran).toEqual(["make deploy"]);
    expect(outputOf(result.items, "c2")).toBe("The user answered: blue");
    expect(shape(result.events)).toEqual([
      "turn_started",
      'user_message input "go"',
      "model_call_started 1",
      "tool_call_started shell c1",
      "model_call_completed 1 tool_calls",
      "permission_requested",
      "permission_resolved",
      "tool_call_completed shell c1 ok",
      "model_call_started 2",
      "tool_call_started ask_user c2",
      "model_call_completed 2 tool_calls",
      "user_input_requested",
      "tool_call_completed ask_user c2 ok",
      "model_call_started 3",
      'assistant_text "done"',
      'assistant_message "done"',
      "model_call_completed 3 stop",
      "turn_completed",
    ]);
  });

  it("a handler that throws denies the call, with its reason for the model", async () => {
    const ran: string[] = [];
    const result = await within(
      run("go", {
        model: shellCall("make deploy"),
        tools: [recordingShell(ran)],
        permissions: {},
        onRequest: () => {
          throw new Error("approval service down");
        },
      }),
    );
    expect(ran).toEqual([]);
    const resolved = result.events.find((e) => e.msg.type === "permission_resolved")?.msg;
    expect(resolved).toMatchObject({ decision: "deny", by: "user" });
    expect(resolved?.type === "permission_resolved" && resolved.reason).toContain("approval service down");
    expect(outputOf(result.items, "c1")).toContain("approval service down");
  });
});

describe("stream() answered by its caller", () => {
  it("lets the caller approve and answer while it iterates", async () => {
    const ran: string[] = [];
    const model = new SimClient({
      script: [
        { toolCalls: [{ id: "c1", name: "shell", arguments: { command: "make deploy" } }] },
        { toolCalls: [{ id: "c2", name: "ask_user", arguments: { question: "Which colour?" } }] },
        { text: "done" },
      ],
    });
    const s: RunStream = stream("go", {
      model,
      tools: [recordingShell(ran), ...askUser()],
      permissions: {},
      interactive: true,
    });
    const pendingSeen: string[] = [];
    for await (const ev of s) {
      if (ev.msg.type === "permission_requested") {
        pendingSeen.push(...s.pending.map((r) => r.type));
        expect(s.approve(ev.msg.requestId)).toBe(true);
        expect(s.approve(ev.msg.requestId)).toBe(false); // answered already
      }
      if (ev.msg.type === "user_input_requested") expect(s.answer(ev.msg.requestId, "green")).toBe(true);
    }
    const result = await s.result;
    expect(pendingSeen).toEqual(["permission_requested"]);
    expect(ran).toEqual(["make deploy"]);
    expect(outputOf(result.items, "c2")).toBe("The user answered: green");
    expect(s.pending).toEqual([]);
  });

  it("refuses what is pending when the caller stops iterating, and the turn still ends", async () => {
    const ran: string[] = [];
    const s = stream("go", {
      model: shellCall("make deploy"),
      tools: [recordingShell(ran)],
      permissions: {},
      interactive: true,
    });
    for await (const ev of s) if (ev.msg.type === "permission_requested") break;
    const result = await within(s.result);
    expect(ran).toEqual([]);
    expect(result.text).toBe("done");
    const resolved = result.events.find((e) => e.msg.type === "permission_resolved")?.msg;
    expect(resolved).toMatchObject({ decision: "deny", reason: "nobody is answering requests any more" });
  });

  it("without interactive or onRequest, a stream does not wait either", async () => {
    const s = stream("go", { model: askingModel(), tools: askUser() });
    const result = await within(s.result);
    expect(outputOf(result.items, "c1")).toContain("No user can answer questions in this session");
    expect(s.answer("anything", "x")).toBe(false);
  });
});
