import { z } from "zod";
import type { SimStepInput } from "../../src/llm/sim/script.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine, type EngineOptions } from "../../src/loop/engine.ts";
import { type Event, type EventMsgOf, type Op, toolOutputText } from "../../src/protocol/index.ts";
import { defineTool, type Tool } from "../../src/tool/define.ts";
import { recorder } from "./events.ts";

/** A shell-like tool that records the commands it was allowed to run (it runs nothing). */
export function recordingShell(ran: string[]): Tool {
  return defineTool({
    name: "shell",
    description: "Runs a shell command.",
    schema: z.object({ command: z.string() }),
    permission: { rule: "Bash", field: "command" },
    execute: ({ command }) => {
      ran.push(command);
      return `ran: ${command}`;
    },
  });
}

/** A file-writing tool that records the paths it was allowed to write. */
export function recordingWriter(written: string[]): Tool {
  return defineTool({
    name: "write_file",
    description: "Writes a file.",
    schema: z.object({ path: z.string(), content: z.string() }),
    permission: { rule: "Edit", field: "path" },
    execute: ({ path }) => {
      written.push(path);
      return `wrote ${path}`;
    },
  });
}

/** A model that calls `shell` with each command (one step), then answers "done". */
export function shellModel(...commands: string[]): SimClient {
  const steps: SimStepInput[] = [
    { toolCalls: commands.map((command) => ({ name: "shell", arguments: { command } })) },
    { text: "done" },
  ];
  return new SimClient({ script: steps, onExhausted: "repeat_last" });
}

/** Answers requests as they arrive: return an op to submit, or undefined to leave it waiting. */
export type Responder = (msg: EventMsgOf<"permission_requested" | "user_input_requested">) => Op | undefined;

/**
 * Submits a prompt and follows its submission to the end, answering permission and
 * user-input requests with `respond` (from outside the event callback, as a UI would).
 * Returns the submission's events.
 */
export async function driveTurn(
  engine: AgentEngine,
  prompt: string | undefined,
  respond: Responder,
  submissionId?: string,
): Promise<Event[]> {
  const id = submissionId ?? engine.submit(prompt ?? "");
  const events: Event[] = [];
  for await (const ev of engine.subscribe(id)) {
    events.push(ev);
    if (ev.msg.type === "permission_requested" || ev.msg.type === "user_input_requested") {
      const op = respond(ev.msg);
      if (op) engine.submit(op);
    }
  }
  return events;
}

/** Waits until the engine has emitted an event of the given type (from `events`). */
export async function waitFor(events: readonly Event[], type: Event["msg"]["type"]): Promise<Event> {
  for (let i = 0; i < 2000; i++) {
    const found = events.find((e) => e.msg.type === type);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no ${type} event arrived`);
}

/**
 * The scheduler gates each call while the model is still streaming, so whether a call's
 * permission events come before or after `model_call_completed` of that step depends on
 * timing. This removes that one event (checking it is there, after the call started) so
 * the rest of the sequence can be compared exactly.
 */
export function withoutStreamEnd(lines: readonly string[], step = 1): string[] {
  const end = lines.findIndex((l) => l.startsWith(`model_call_completed ${step} `));
  const started = lines.findIndex((l) => l.startsWith("tool_call_started"));
  if (end < 0) throw new Error(`no model_call_completed ${step}`);
  if (started >= 0 && end < started) throw new Error("the stream ended before its first call started");
  return lines.filter((_, i) => i !== end);
}

/** Opens an engine with the recording shell tool and records every event. */
export async function openWithShell(
  ran: string[],
  cwd: string,
  options: Partial<EngineOptions> & Pick<EngineOptions, "model">,
): Promise<{ engine: AgentEngine; events: Event[] }> {
  const rec = recorder();
  const engine = await AgentEngine.open({
    tools: [recordingShell(ran)],
    cwd,
    listeners: [rec.listener],
    ...options,
  });
  return { engine, events: rec.events };
}

/** How a call ended, from its `tool_call_completed`: undefined when it has none. */
export function callOutcome(
  events: readonly { msg: { type: string } }[],
  callId = "call_1_1",
): { status: string; isError: boolean; text: string } | undefined {
  const msg = events.find(
    (e) =>
      e.msg.type === "tool_call_completed" && (e.msg as EventMsgOf<"tool_call_completed">).callId === callId,
  )?.msg as EventMsgOf<"tool_call_completed"> | undefined;
  return msg ? { status: msg.status, isError: msg.isError, text: toolOutputText(msg.output) } : undefined;
}
