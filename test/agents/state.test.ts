import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AgentTree, SharedState } from "../../src/agents/index.ts";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { finalText, lastOutput, treeModel } from "../helpers/agents.ts";

const update = (scope: string, key: string, op: string, value: unknown) => ({
  name: "update_state",
  arguments: { scope, key, op, value },
});

describe("shared state", () => {
  it("agents update tree, agent and pool scopes atomically; tree and agent scopes come back after a reopen", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taifeng-agents-state-"));
    try {
      const pool = new SharedState();
      const child = [
        {
          toolCalls: [
            update("tree", "count", "increment", 1),
            update("tree", "log", "append", "x"),
            update("agent", "mine", "set", 1),
            update("pool", "p", "increment", 1),
          ],
        },
        { text: "done" },
      ];
      const model = treeModel({
        root: [
          {
            toolCalls: [
              { name: "spawn_agent", arguments: { instructions: "i", task: "a" } },
              { name: "spawn_agent", arguments: { instructions: "i", task: "b" } },
              { name: "spawn_agent", arguments: { instructions: "i", task: "c" } },
              { name: "wait_agents", arguments: {} },
            ],
          },
          { toolCalls: [{ name: "read_state", arguments: { scope: "tree" } }] },
          (r) => ({ text: lastOutput(r) }),
        ],
        "*": child,
      });
      const options = { store: new JsonlThreadStore({ dir }), threadId: "thr_state", state: pool };
      const tree = await AgentTree.open({ model, ...options });
      expect(finalText(await tree.root.submitAndWait("go"))).toBe('{"count":3,"log":["x","x","x"]}');
      expect(pool.get("pool", "", "p")).toBe(3);
      expect(pool.get("agent", "root/inline#2", "mine")).toBe(1);
      await tree.close();

      // A new tree on the same transcripts (and a fresh SharedState) replays the updates.
      const fresh = new SharedState();
      const again = await AgentTree.open({
        model: treeModel({ root: [{ text: "x" }] }),
        store: new JsonlThreadStore({ dir }),
        threadId: "thr_state",
        state: fresh,
      });
      expect(fresh.entries("tree", "")).toEqual({ count: 3, log: ["x", "x", "x"] });
      expect(fresh.get("agent", "root/inline#3", "mine")).toBe(1);
      expect(fresh.get("pool", "", "p")).toBeUndefined();
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a bad update is an error output and changes nothing", () => {
    const s = new SharedState();
    s.update("tree", "", "k", { op: "set", value: "text" });
    expect(() => s.update("tree", "", "k", { op: "increment", value: 1 })).toThrow(
      "state tree.k holds string, not a number",
    );
    expect(s.get("tree", "", "k")).toBe("text");
  });
});
