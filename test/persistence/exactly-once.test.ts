import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import type { Event, RolloutLine } from "../../src/protocol/index.ts";
import { askUserTool } from "../../src/tool/builtin/ask_user/index.ts";
import { shape } from "../helpers/events.ts";
import { effectTool, type KillPoint, ONCE_THREAD } from "./exactly-once-child.ts";

/**
 * Exactly-once after approval, proved with SIGKILL at the moments that matter (the child
 * kills itself there, so the moment is exact): nothing with an effect starts before the
 * decision that allowed it is on disk, and nobody is asked before the question is on disk.
 * The child's store batches writes for a minute, so whatever is on disk was made durable on
 * purpose by the engine before it went on.
 */

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-once-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function runChildUntilKilled(point: KillPoint): Promise<void> {
  const child = spawn(process.execPath, [join(import.meta.dirname, "exactly-once-child.ts"), dir, point], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const how = await new Promise<string | number | null>((resolve) =>
    child.on("exit", (code, signal) => resolve(signal ?? code)),
  );
  expect(how, stderr).toBe("SIGKILL");
}

const effects = async () =>
  (await readFile(join(dir, "effects.txt"), "utf8").catch(() => "")).split("\n").filter(Boolean);

const events = (lines: RolloutLine[]) =>
  lines.flatMap((l) => (l.type === "event" ? [l.payload.msg.type] : []));

/** Reopens the thread in this process; approvals and questions are answered at once. */
async function restart(): Promise<{ engine: AgentEngine; seen: Event[]; done: Promise<void> }> {
  const seen: Event[] = [];
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  let engine: AgentEngine | undefined;
  engine = await AgentEngine.open({
    model: new SimClient({ script: [{ text: "done" }] }),
    store: new JsonlThreadStore({ dir }),
    threadId: ONCE_THREAD,
    cwd: dir,
    tools: [effectTool(dir), askUserTool()],
    permissions: { rules: { ask: ["effect"] }, interactive: true },
    listeners: [
      (ev) => {
        seen.push(ev);
        const msg = ev.msg;
        if (msg.type === "permission_requested")
          queueMicrotask(() =>
            engine?.submit({ type: "approval", requestId: msg.requestId, decision: "allow_once" }),
          );
        if (msg.type === "user_input_requested")
          queueMicrotask(() =>
            engine?.submit({ type: "user_input_answer", requestId: msg.requestId, answer: "the second" }),
          );
        if (msg.type === "turn_completed" || msg.type === "turn_failed" || msg.type === "turn_aborted")
          finish();
      },
    ],
  });
  return { engine, seen, done };
}

describe("exactly-once after approval, across SIGKILL", () => {
  it("a call killed right after its effect is never run again: the approval was on disk before it started", async () => {
    await runChildUntilKilled("after_effect");
    expect(await effects()).toEqual(["once"]);
    const onDisk = await new JsonlThreadStore({ dir, index: false }).read(ONCE_THREAD);
    // The decision reached the disk before the tool ran, although the store batches for a minute.
    expect(events(onDisk)).toEqual(["model_call_completed", "permission_requested", "permission_resolved"]);

    const { engine, seen, done } = await restart();
    await done;
    // The restart closes the call as cut off; it does not ask again and does not run it again.
    expect(shape(seen).filter((s) => !s.startsWith("thread_opened"))).toEqual([
      "tool_call_completed effect call_effect aborted",
      "turn_aborted crash",
    ]);
    await engine.close();
    expect(await effects()).toEqual(["once"]);
    const after = await new JsonlThreadStore({ dir, index: false }).read(ONCE_THREAD);
    const output = after.find((l) => l.type === "response_item" && l.payload.type === "function_call_output");
    expect(output?.payload).toMatchObject({ callId: "call_effect", isError: true });
  });

  it("an approval request killed the moment it is shown survives: the restart asks it again, under the same id, and the call runs once", async () => {
    await runChildUntilKilled("at_request");
    expect(await effects()).toEqual([]);
    const onDisk = await new JsonlThreadStore({ dir, index: false }).read(ONCE_THREAD);
    expect(events(onDisk)).toEqual(["model_call_completed", "permission_requested"]);
    const asked = onDisk.find((l) => l.type === "event" && l.payload.msg.type === "permission_requested");
    const requestId =
      asked?.type === "event" && asked.payload.msg.type === "permission_requested"
        ? asked.payload.msg.requestId
        : "";

    const { engine, seen, done } = await restart();
    await done;
    expect(seen[0]?.msg).toMatchObject({ type: "thread_opened", resumed: true });
    const again = seen.find((e) => e.msg.type === "permission_requested")?.msg;
    expect(again).toMatchObject({ type: "permission_requested", requestId, tool: "effect" });
    expect(seen.at(-1)?.msg.type).toBe("turn_completed");
    await engine.close();
    expect(await effects()).toEqual(["once"]);
  });

  it("ask_user killed the moment it asks survives the kill: the restart asks the same question and the turn goes on with the answer (K7)", async () => {
    await runChildUntilKilled("at_question");
    const onDisk = await new JsonlThreadStore({ dir, index: false }).read(ONCE_THREAD);
    expect(events(onDisk)).toEqual(["model_call_completed", "user_input_requested"]);
    const asked = onDisk.find((l) => l.type === "event" && l.payload.msg.type === "user_input_requested");

    const { engine, seen, done } = await restart();
    await done;
    expect(shape(seen).filter((s) => !s.startsWith("assistant_text"))).toEqual([
      expect.stringMatching(/^thread_opened/),
      "turn_started",
      "tool_call_started ask_user call_ask",
      "user_input_requested",
      "op_applied user_input_answer",
      "tool_call_completed ask_user call_ask ok",
      "model_call_started 1",
      'assistant_message "done"',
      "model_call_completed 1 stop",
      "turn_completed",
    ]);
    const again = seen.find((e) => e.msg.type === "user_input_requested")?.msg;
    // The same question under the same id: an answer a host prepared for it still fits.
    expect(again).toEqual(asked?.type === "event" ? { ...asked.payload.msg } : undefined);
    await engine.close();
    const after = await new JsonlThreadStore({ dir, index: false }).read(ONCE_THREAD);
    const output = after.find((l) => l.type === "response_item" && l.payload.type === "function_call_output");
    expect(output?.payload).toMatchObject({
      callId: "call_ask",
      output: expect.stringContaining("the second"),
    });
  });
});
