import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { toolOutputText } from "../src/protocol/index.ts";
import { SkillRuntime, type SkillSnapshot } from "../src/skill/index.ts";
import { defineTool } from "../src/tool/define.ts";
import { agentsModel, tempDir, writeSkill } from "./helpers/skills.ts";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(() => cleanup());

const outputs = (req: ModelRequest) =>
  req.items
    .filter((i) => i.type === "function_call_output")
    .map((i) => (i.type === "function_call_output" ? toolOutputText(i.output) : ""));

describe.each(["watch", "refresh"] as const)("hot reload (%s)", (mode) => {
  it("a skill edited while a turn runs: the turn keeps its prefix, the next turn sees the edit", async () => {
    await writeSkill(
      dir,
      "notes",
      "name: notes\ndescription: Takes notes (v1).",
      "Write notes, version one.",
    );
    const runtime = await SkillRuntime.open({
      dirs: [dir],
      defaults: false,
      watch: mode === "watch",
      debounceMs: 20,
      checkIntervalMs: 0,
    });
    // Resolves with the first snapshot that has both edits (a watcher may reload in between).
    const changed = (): Promise<SkillSnapshot> =>
      new Promise((resolve) => {
        const off = runtime.registry.onChange((s) => {
          if (!s.skills.has("todo")) return;
          off();
          resolve(s);
        });
      });
    const editor = defineTool({
      name: "edit_skill_on_disk",
      description: "Edits the notes skill on disk while the turn runs.",
      schema: z.object({}),
      execute: async () => {
        const reloaded = changed();
        await writeSkill(
          dir,
          "notes",
          "name: notes\ndescription: Takes better notes (v2).",
          "Write notes, version two.",
        );
        await writeSkill(dir, "todo", "name: todo\ndescription: Tracks todos.");
        // Watching reloads by itself; otherwise another engine's turn starting now would
        // refresh the shared registry: do that mid-turn to prove this turn ignores it.
        if (mode === "refresh") await runtime.registry.refresh();
        const snapshot = await reloaded;
        return `reloaded to version ${snapshot.version}`;
      },
    });
    const requests: ModelRequest[] = [];
    const model = agentsModel({
      root: [
        { toolCalls: [{ name: "edit_skill_on_disk" }] },
        {
          toolCalls: [
            { name: "read_skill", arguments: { name: "notes" } },
            { name: "call_skill", arguments: { name: "notes" } },
          ],
        },
        { text: ["turn one done"] },
        { text: ["turn two done"] },
      ],
      notes: [(req) => ({ text: [/version (one|two)/.exec(req.system)?.[0] ?? "?"] })],
    });
    const engine = await AgentEngine.open({
      model: {
        id: model.id,
        stream: (req, opts) => {
          requests.push(req);
          return model.stream(req, opts);
        },
      },
      cwd: dir,
      tools: [editor],
      system: "Root.",
      ...runtime.engineOptions(),
    });
    try {
      const first = await engine.submitAndWait("turn one");
      expect(first.at(-1)?.msg).toMatchObject({ type: "turn_completed", text: "turn one done" });
      const turn1 = requests.filter((r) => !r.system.includes("running the skill"));
      expect(turn1).toHaveLength(3);
      // One prefix for the whole turn, byte for byte, though the registry moved on mid-turn.
      expect(runtime.registry.current.version).toBeGreaterThan(1);
      for (const r of turn1) {
        expect(r.system).toBe(turn1[0]?.system);
        expect(r.tools).toEqual(turn1[0]?.tools);
      }
      expect(turn1[0]?.system).toContain("- notes: Takes notes (v1).");
      expect(turn1[0]?.system).not.toContain("todo");
      // Tools bound to the turn's snapshot: read_skill and call_skill still see version one.
      const [editOut, readOut, callOut] = outputs(turn1[2] as ModelRequest);
      expect(editOut).toMatch(/^reloaded to version [2-9]$/);
      expect(readOut).toContain("Write notes, version one.");
      expect(callOut).toBe("version one");

      await engine.submitAndWait("turn two");
      const turn2 = requests.at(-1) as ModelRequest;
      expect(turn2.system).toContain("- notes: Takes better notes (v2).");
      expect(turn2.system).toContain("- todo: Tracks todos.");
      expect(turn2.system.replace("Takes better notes (v2).", "").replace(/- todo: .*\n/, "")).toBe(
        (turn1[0] as ModelRequest).system.replace("Takes notes (v1).", ""),
      );
    } finally {
      await engine.close();
      runtime.close();
    }
  });
});

describe("hot reload: a prefix that does not change stays byte-identical", () => {
  it("gives consecutive turns the same prefix when nothing changed on disk", async () => {
    await writeSkill(dir, "a", "name: a\ndescription: A.");
    const runtime = await SkillRuntime.open({ dirs: [dir], defaults: false });
    const systems: string[] = [];
    const model = agentsModel({ root: [{ text: ["1"] }, { text: ["2"] }] });
    const engine = await AgentEngine.open({
      model: {
        id: model.id,
        stream: (req, opts) => {
          systems.push(req.system);
          return model.stream(req, opts);
        },
      },
      ...runtime.engineOptions(),
    });
    await engine.submitAndWait("one");
    await engine.submitAndWait("two");
    expect(systems).toHaveLength(2);
    expect(systems[1]).toBe(systems[0]);
    await engine.close();
  });
});
