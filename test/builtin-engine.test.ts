import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import type { Event, FunctionCallOutputItem } from "../src/protocol/index.ts";
import { toolOutputText } from "../src/protocol/index.ts";
import { type BuiltinTools, builtinTools } from "../src/tool/builtin/index.ts";
import { latestTodos } from "../src/tool/builtin/todo_write/todos.ts";
import { recorder, shape } from "./helpers/events.ts";

// The built-in tools inside a real engine: whole event sequences, real processes.

let dir: string;
let tools: BuiltinTools | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-engine-tools-"));
});

afterEach(async () => {
  await tools?.close();
  tools = undefined;
  await rm(dir, { recursive: true, force: true });
});

function lastOutput(request: ModelRequest): string {
  const outputs = request.items.filter((i): i is FunctionCallOutputItem => i.type === "function_call_output");
  return toolOutputText(outputs.at(-1)?.output ?? "");
}

function ofTurn(events: readonly Event[], submissionId: string): Event[] {
  return events.filter((e) => e.submissionId === submissionId);
}

/** True while the pid exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

describe("ask_user through the engine", () => {
  it("emits user_input_requested, waits for user_input_answer, and hands the answer to the model", async () => {
    tools = builtinTools({ only: ["ask_user"] });
    const model = new SimClient({
      script: [
        {
          toolCalls: [
            {
              id: "c1",
              name: "ask_user",
              arguments: { question: "Which database?", options: ["postgres", "sqlite"] },
            },
          ],
        },
        (req) => ({ text: `OK: ${lastOutput(req)}` }),
      ],
    });
    const rec = recorder();
    const engine = await AgentEngine.open({ model, tools: tools.tools, cwd: dir, listeners: [rec.listener] });
    engine.on((ev) => {
      if (ev.msg.type === "user_input_requested") {
        const requestId = ev.msg.requestId;
        setTimeout(() => engine.submit({ type: "user_input_answer", requestId, answer: "postgres" }), 0);
      }
    });
    const id = engine.submit("Set up the database");
    const events: Event[] = [];
    for await (const ev of engine.subscribe(id)) events.push(ev);
    expect(shape(events)).toEqual([
      "turn_started",
      'user_message input "Set up the database"',
      "model_call_started 1",
      "tool_call_started ask_user c1",
      "model_call_completed 1 tool_calls",
      "user_input_requested",
      "tool_call_completed ask_user c1 ok",
      "model_call_started 2",
      'assistant_text "OK: "',
      'assistant_text "The "',
      'assistant_text "user "',
      'assistant_text "answered: "',
      'assistant_text "postgres"',
      'assistant_message "OK: The user answered: postgres"',
      "model_call_completed 2 stop",
      "turn_completed",
    ]);
    const asked = events.find((e) => e.msg.type === "user_input_requested")?.msg;
    expect(asked).toMatchObject({
      callId: "c1",
      question: "Which database?",
      options: ["postgres", "sqlite"],
    });
    expect(shape(rec.events.filter((e) => e.msg.type === "op_applied"))).toEqual([
      "op_applied user_input_answer",
    ]);
    await engine.close();
  });

  it("ends the wait with an aborted call when the turn is interrupted", async () => {
    tools = builtinTools({ only: ["ask_user"] });
    const model = new SimClient({
      script: [{ toolCalls: [{ id: "c1", name: "ask_user", arguments: { question: "?" } }] }],
    });
    const engine = await AgentEngine.open({ model, tools: tools.tools, cwd: dir });
    engine.on((ev) => {
      if (ev.msg.type === "user_input_requested") setTimeout(() => engine.submit({ type: "interrupt" }), 0);
    });
    const id = engine.submit("hi");
    const events: Event[] = [];
    for await (const ev of engine.subscribe(id)) events.push(ev);
    expect(shape(events).slice(-3)).toEqual([
      "user_input_requested",
      "tool_call_completed ask_user c1 aborted",
      "turn_aborted interrupt",
    ]);
    await engine.close();
  });
});

describe("bash inside the engine", () => {
  it("an interrupt kills the whole process tree of a running command", async () => {
    tools = builtinTools({ only: ["bash"] });
    const command = "echo $$ > pids; (sleep 311 & echo $! >> pids; wait) & echo $! >> pids; sleep 311";
    const model = new SimClient({
      script: [{ toolCalls: [{ id: "c1", name: "bash", arguments: { command } }] }],
    });
    const engine = await AgentEngine.open({ model, tools: tools.tools, cwd: dir });
    const id = engine.submit("run it");
    const events: Event[] = [];
    const pidsFile = join(dir, "pids");
    const interrupt = (async () => {
      for (let i = 0; i < 500; i++) {
        const text = await readFile(pidsFile, "utf8").catch(() => "");
        if (text.trim().split("\n").length >= 3) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      engine.submit({ type: "interrupt" });
    })();
    for await (const ev of engine.subscribe(id)) events.push(ev);
    await interrupt;
    expect(shape(events)).toEqual([
      "turn_started",
      'user_message input "run it"',
      "model_call_started 1",
      "tool_call_started bash c1",
      "model_call_completed 1 tool_calls",
      "tool_call_completed bash c1 aborted",
      "turn_aborted interrupt",
    ]);
    const pids = (await readFile(pidsFile, "utf8")).trim().split("\n").map(Number);
    expect(pids).toHaveLength(3);
    for (let i = 0; i < 200 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 10));
    expect(pids.filter(alive)).toEqual([]);
    await engine.close();
  });

  it("a background task keeps running through a long turn and into the next one", async () => {
    tools = builtinTools({ only: ["bash", "bash_output", "bash_kill"] });
    const loop = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done";
    let taskId = "";
    const model = new SimClient({
      script: [
        { toolCalls: [{ id: "c1", name: "bash", arguments: { command: loop, run_in_background: true } }] },
        (req) => {
          taskId = /task (bg_[0-9a-f]+)/.exec(lastOutput(req))?.[1] ?? "missing";
          // A foreground command longer than the engine's default tool timeout.
          return {
            toolCalls: [{ id: "c2", name: "bash", arguments: { command: "sleep 1; echo slow done" } }],
          };
        },
        () => ({
          toolCalls: [{ id: "c3", name: "bash_output", arguments: { task_id: taskId, wait_ms: 200 } }],
        }),
        { text: "checked" },
        () => ({
          toolCalls: [{ id: "c4", name: "bash_output", arguments: { task_id: taskId, wait_ms: 200 } }],
        }),
        () => ({ toolCalls: [{ id: "c5", name: "bash_kill", arguments: { task_id: taskId } }] }),
        { text: "stopped" },
      ],
    });
    const engine = await AgentEngine.open({ model, tools: tools.tools, cwd: dir, toolTimeoutMs: 500 });
    const first = await engine.submitAndWait("start a watcher, then do slow work");
    expect(shape(first.filter((e) => e.msg.type === "tool_call_completed"))).toEqual([
      "tool_call_completed bash c1 ok",
      "tool_call_completed bash c2 ok",
      "tool_call_completed bash_output c3 ok",
    ]);
    const outputs = (events: Event[]) =>
      events.flatMap((e) => (e.msg.type === "tool_call_completed" ? [toolOutputText(e.msg.output)] : []));
    const ticksIn = (text: string) => [...text.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
    const [, slow, poll1] = outputs(first);
    expect(slow).toBe("slow done");
    expect(poll1).toMatch(new RegExp(`^${taskId}: running`));
    const seenFirst = Math.max(...ticksIn(poll1 as string));
    // The task kept printing while the foreground command ran.
    expect(seenFirst).toBeGreaterThan(1);

    const second = await engine.submitAndWait("check it again, then stop it");
    const [poll2, killed] = outputs(second);
    expect(poll2).toMatch(new RegExp(`^${taskId}: running`));
    expect(Math.min(...ticksIn(poll2 as string))).toBe(seenFirst + 1);
    expect(killed).toMatch(new RegExp(`^${taskId}: killed`));
    expect(ofTurn(second, second[0]?.submissionId as string).at(-1)?.msg.type).toBe("turn_completed");
    await engine.close();
  });
});

describe("todo_write and task_finish", () => {
  it("keeps the todo list readable from the thread history", async () => {
    tools = builtinTools({ only: ["todo_write"] });
    const todos = [
      { content: "Write the parser", status: "completed" },
      { content: "Test it", status: "in_progress" },
      { content: "Document it", status: "pending" },
    ];
    const model = new SimClient({
      script: [{ toolCalls: [{ name: "todo_write", arguments: { todos } }] }, { text: "ok" }],
    });
    const engine = await AgentEngine.open({ model, tools: tools.tools, cwd: dir });
    const events = await engine.submitAndWait("plan");
    const done = events.find((e) => e.msg.type === "tool_call_completed")?.msg;
    expect(done && "output" in done && done.output).toBe(
      "Todo list (1/3 done):\n[x] 1. Write the parser\n[>] 2. Test it (in progress)\n[ ] 3. Document it",
    );
    expect(latestTodos(engine.items)).toEqual(todos);
    expect(tools.todos.get(engine.threadId)).toEqual(todos);
    await engine.close();
  });

  it("uses the built-in task_finish under tool-driven completion without a duplicate", async () => {
    tools = builtinTools({ only: ["task_finish", "list_files"] });
    const model = new SimClient({
      script: [{ toolCalls: [{ name: "task_finish", arguments: { result: "all done" } }] }],
    });
    const engine = await AgentEngine.open({ model, tools: tools.tools, cwd: dir, completion: "task_finish" });
    const events = await engine.submitAndWait("finish");
    expect(events.at(-1)?.msg).toMatchObject({ type: "turn_completed", text: "all done" });
    await engine.close();
  });
});
