import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../src/conversation/jsonl-store.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import type { Event } from "../src/protocol/index.ts";
import { shape } from "./helpers/events.ts";
import { deployTool, HITL_THREAD } from "./persistence/hitl-shared.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-hitl-proc-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** Starts the child, waits for its pending approval to be durable, then kills it with SIGKILL. */
async function killWhileWaiting(): Promise<{ requestId: string; submissionId: string }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, "persistence", "hitl-child.ts"), dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on("exit", (code, sig) => resolve(sig ?? code)),
  );
  const report = await new Promise<{ requestId: string; submissionId: string }>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.includes("requestId"));
      if (line) resolve(JSON.parse(line));
    });
    void exited.then(() => reject(new Error(`the child exited early: ${stderr}`)));
  });
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
  return report;
}

describe("HITL across a real process restart (JSONL store)", () => {
  it("a new process re-emits the pending approval, and the approved call runs once, there", async () => {
    const pending = await killWhileWaiting();
    const runs: string[] = [];
    const events: Event[] = [];
    const engine = await AgentEngine.open({
      model: new SimClient({ script: [{ text: "Deployed to prod." }] }),
      store: new JsonlThreadStore({ dir }),
      threadId: HITL_THREAD,
      cwd: dir,
      tools: [deployTool(() => runs.push("parent"))],
      permissions: { rules: { ask: ["deploy"] }, interactive: true },
      listeners: [(ev) => events.push(ev)],
    });
    expect(events[0]?.msg).toMatchObject({
      type: "thread_opened",
      resumed: true,
      resumedTurn: { submissionId: pending.submissionId },
    });
    // The resumed turn continues under its original submission id and asks again.
    const turn: Event[] = [];
    for await (const ev of engine.subscribe(pending.submissionId)) {
      turn.push(ev);
      if (ev.msg.type === "permission_requested") {
        expect(ev.msg).toMatchObject({
          requestId: pending.requestId,
          tool: "deploy",
          input: { env: "prod" },
        });
        engine.submit({ type: "approval", requestId: pending.requestId, decision: "allow_once" });
      }
    }
    // The resumed turn announces itself and the pending call again; steps count from 1 in
    // the new process.
    expect(shape(turn).filter((s) => !s.startsWith("assistant_text"))).toEqual([
      "turn_started",
      "tool_call_started deploy call_deploy",
      "permission_requested",
      "permission_resolved",
      "tool_call_completed deploy call_deploy ok",
      "model_call_started 1",
      'assistant_message "Deployed to prod."',
      "model_call_completed 1 stop",
      "turn_completed",
    ]);
    expect(runs).toEqual(["parent"]);
    await engine.close();
  });
});
