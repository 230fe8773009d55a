import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentTree, type TreeEvent } from "../../src/agents/index.ts";
import { agentShape, lastOutput, lastUserText, treeModel } from "../helpers/agents.ts";
import { CRASH_ROOT, crashTreeOptions } from "./crash-shared.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-tree-crash-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** Runs crash-child.ts until it reports, then kills it with SIGKILL. */
async function killMidTree(): Promise<string[]> {
  const child = spawn(process.execPath, [join(import.meta.dirname, "crash-child.ts"), dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on("exit", (code, sig) => resolve(sig ?? code)),
  );
  const report = await new Promise<{ agents: string[] }>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.includes('"ready"'));
      if (line) resolve(JSON.parse(line));
    });
    void exited.then(() => reject(new Error(`the process exited early: ${stderr}`)));
  });
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
  return report.agents;
}

describe("an agent tree across kill -9", () => {
  it("resumes: running children continue from their transcripts, the approval is asked again at the root, every effect runs once", async () => {
    const before = await killMidTree();
    expect(before).toEqual([
      "root running",
      "root/inline#1 running",
      "root/inline#2 running",
      "root/inline#3 waiting",
    ]);
    expect((await readFile(join(dir, "work.log"), "utf8")).split("\n").filter(Boolean).sort()).toEqual([
      "A1",
      "B1",
    ]);

    const seen: TreeEvent[] = [];
    let asked!: (e: TreeEvent) => void;
    const reasked = new Promise<TreeEvent>((r) => (asked = r));
    const childRequests: string[] = [];
    const model = treeModel({
      // The root's resumed turn re-runs wait_agents before its first model call here.
      root: [(r) => ({ text: `joined: ${lastOutput(r)}` })],
      "*": [
        (r) => {
          childRequests.push(lastUserText(r));
          const done = r.items.some((i) => i.type === "function_call_output");
          // Spread the three ends out in time (C is answered at once, then A, then B).
          const task = r.items.find((i) => i.type === "message" && i.role === "user");
          const first =
            task?.type === "message" && task.content[0]?.type === "text" ? task.content[0].text : "";
          return {
            text: `${done ? "finished" : "nothing done"} after restart`,
            delayMs: { A: 150, B: 300 }[first] ?? 0,
          };
        },
      ],
    });
    const tree = await AgentTree.open({
      model,
      ...crashTreeOptions(dir),
      listener: (e) => {
        seen.push(e);
        if (e.event.msg.type === "permission_requested") asked(e);
      },
    });
    const opened = seen.find((e) => e.agent === "root" && e.event.msg.type === "thread_opened")?.event.msg;
    expect(opened).toMatchObject({ type: "thread_opened", resumed: true });
    const resumed = opened?.type === "thread_opened" ? opened.resumedTurn?.submissionId : undefined;
    expect(resumed).toBeDefined();
    // C's approval surfaces again at the tree, under the id it had before the crash.
    await reasked;
    const pending = tree.pendingRequests();
    expect(pending.map((p) => p.agent)).toEqual(["root/inline#3"]);
    expect(tree.answer(pending[0]?.requestId as string, { decision: "allow_once" })).toBe(true);

    const rootEvents = [];
    for await (const ev of tree.root.subscribe(resumed as string)) rootEvents.push(ev);
    const root = agentShape(rootEvents).filter((s) => s !== "assistant_text");
    // The parked wait is published once it is durable and the children run on their own
    // engines and files: between the wait's start and its end, their order is not fixed.
    expect(root.slice(0, 2)).toEqual(["turn_started", "tool_call_started wait_agents"]);
    expect(root.slice(2, 6).sort()).toEqual([
      "child_completed root/inline#1 completed: finished after restart",
      "child_completed root/inline#2 completed: finished after restart",
      "child_completed root/inline#3 completed: finished after restart",
      "parked: waiting for all of root/inline#1, root/inline#2, root/inline#3",
    ]);
    expect(root.slice(6)).toEqual([
      "tool_call_completed wait_agents ok",
      "model_call_started",
      "assistant_message",
      "model_call_completed",
      "turn_completed: joined: 3 of 3 agents finished.\n- root/inline#1 [completed]\n  finished after restart\n- root/inline#2 [completed]\n  finished after restart\n- root/inline#3 [completed]\n  finished after restart",
    ]);
    // A and B continued with a new turn; C's resumed turn ran its approved call, then sampled.
    const of = (agent: string) =>
      agentShape(seen.filter((e) => e.agent === agent).map((e) => e.event)).filter(
        (s) => s !== "assistant_text",
      );
    expect(of("root/inline#1")).toEqual([
      "thread_opened",
      "turn_aborted crash",
      "turn_started",
      "user_message input",
      "model_call_started",
      "assistant_message",
      "model_call_completed",
      "turn_completed: finished after restart",
    ]);
    expect(of("root/inline#3")).toEqual([
      "thread_opened",
      "turn_started",
      "tool_call_started deploy",
      "permission_requested deploy",
      "op_applied",
      "permission_resolved allow_once by user",
      "tool_call_completed deploy ok",
      "model_call_started",
      "assistant_message",
      "model_call_completed",
      "turn_completed: finished after restart",
    ]);
    expect(childRequests.filter((t) => t.startsWith("[The process restarted"))).toHaveLength(2);
    // Every effect exactly once: A1 and B1 before the crash, C's deploy after the approval.
    expect((await readFile(join(dir, "work.log"), "utf8")).split("\n").filter(Boolean).sort()).toEqual([
      "A1",
      "B1",
      "deploy:C",
    ]);
    expect(tree.list().map((a) => `${a.id} ${a.status}`)).toEqual([
      "root idle",
      "root/inline#1 completed",
      "root/inline#2 completed",
      "root/inline#3 completed",
    ]);
    await tree.close();
    expect(CRASH_ROOT).toBe(tree.root.threadId);
  }, 30_000);
});
