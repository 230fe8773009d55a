import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentTree, defineAgent } from "../../src/agents/index.ts";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import type { ThreadInfo } from "../../src/conversation/summary.ts";
import { lastOutput, lastUserText, treeModel } from "../helpers/agents.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "taifeng-agent-dir-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The tree as the directory reports it: "path <- parent thread (call)" per agent thread. */
function links(list: readonly ThreadInfo[]): string[] {
  return list
    .filter((t) => t.agent !== undefined)
    .map((t) => `${t.agent?.path} ${t.threadId} <- ${t.agent?.parentThreadId} (${t.agent?.callId})`)
    .sort();
}

/** A root that spawns a researcher (which spawns an inline helper) and a reviewer. */
async function buildTree(store: JsonlThreadStore): Promise<AgentTree> {
  const model = treeModel({
    root: [
      {
        toolCalls: [
          { name: "spawn_agent", arguments: { agent: "researcher", task: "find" } },
          { name: "spawn_agent", arguments: { agent: "reviewer", task: "review" } },
          { name: "wait_agents", arguments: {} },
        ],
      },
      (r) => ({ text: `done: ${lastOutput(r).split("\n")[0]}` }),
    ],
    "root/researcher#1": [
      { toolCalls: [{ name: "spawn_agent", arguments: { instructions: "help", task: "dig", wait: true } }] },
      { text: "found it" },
    ],
    "*": [(r) => ({ text: `did ${lastUserText(r)}` })],
  });
  const agents = ["researcher", "reviewer"].map((name) =>
    defineAgent({ name, description: name, instructions: `You ${name}.` }),
  );
  const tree = await AgentTree.open({ model, store, agents });
  const events = await tree.root.submitAndWait("go");
  expect(events.at(-1)?.msg.type).toBe("turn_completed");
  return tree;
}

describe("agent links in the thread directory", () => {
  it("records parent thread, call id and path per child; rebuild from the JSONL files alone gives the same tree", async () => {
    let store = new JsonlThreadStore({ dir });
    const tree = await buildTree(store);
    const rootThread = tree.root.threadId;
    const expected = tree.list().slice(1);
    await tree.close();

    const before = await store.list();
    expect(links(before)).toHaveLength(3);
    // Every agent of the tree is there, under the thread that spawned it.
    for (const agent of expected) {
      const row = before.find((t) => t.threadId === agent.threadId);
      const parent = expected.find((a) => a.id === agent.parent)?.threadId ?? rootThread;
      expect(row?.agent).toMatchObject({ path: agent.id, parentThreadId: parent });
      expect(row?.agent?.callId.length).toBeGreaterThan(0);
    }
    // Hosts ask for one agent's children without reading transcripts.
    const rootChildren = await store.list({ agentParentThreadId: rootThread });
    expect(rootChildren.map((t) => t.agent?.path).sort()).toEqual(["root/researcher#1", "root/reviewer#1"]);
    expect(before.find((t) => t.threadId === rootThread)?.agent).toBeUndefined();
    await store.close();

    // Delete the directory: the tree comes back from the transcripts.
    for (const f of ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"])
      rmSync(join(dir, f), { force: true });
    store = new JsonlThreadStore({ dir });
    const report = await store.rebuildIndex();
    expect(report.skipped).toEqual([]);
    expect(links(await store.list())).toEqual(links(before));
    await store.close();
  });

  it("a version 2 directory is migrated in place: agent columns added, rows re-read, session bindings kept", async () => {
    let store = new JsonlThreadStore({ dir });
    const tree = await buildTree(store);
    await tree.close();
    const expected = links(await store.list());
    await store.sessions?.bind("session-1", tree.root.threadId);
    await store.close();
    // Turn the file into the version 2 layout (no agent columns).
    const db = new DatabaseSync(join(dir, "index.sqlite"));
    db.exec(
      "DROP INDEX threads_agent_parent; ALTER TABLE threads DROP COLUMN agent_parent_id; ALTER TABLE threads DROP COLUMN agent_call_id; ALTER TABLE threads DROP COLUMN agent_path; ALTER TABLE threads DROP COLUMN resume; PRAGMA user_version = 2;",
    );
    db.close();
    const warnings: string[] = [];
    store = new JsonlThreadStore({ dir, onWarning: (m) => warnings.push(m) });
    expect(links(await store.list())).toEqual(expected);
    expect(await store.sessions?.threadOf("session-1")).toBe(tree.root.threadId);
    expect(warnings).toEqual([]);
    await store.close();
  });
});
