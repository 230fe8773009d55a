import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../src/llm/types.ts";
import { AgentEngine, type EngineOptions } from "../src/loop/engine.ts";
import type { Event } from "../src/protocol/index.ts";
import { SkillRuntime } from "../src/skill/runtime.ts";
import { sandboxedScriptRunner } from "../src/skill/sandbox-runner.ts";
import { builtinTools } from "../src/tool/builtin/index.ts";
import { level1Tests } from "./helpers/sandbox.ts";
import { agentsModel, skillShape, tempDir, writeSkill } from "./helpers/skills.ts";

/**
 * The seams between features, wired by the engine: skills go through the permission policy
 * and the hook runner, compaction runs its hooks, pinned state survives compaction, skill
 * scripts run in the sandbox.
 */
let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("taifeng-integration-"));
});
afterEach(async () => cleanup());

const lastOutput = (req: ModelRequest) => {
  const out = req.items.at(-1);
  return out?.type === "function_call_output" ? String(out.output) : "";
};

async function planSkills() {
  await writeSkill(
    dir,
    "release",
    `name: release
description: Ships a release.
taifeng:
  plan:
    steps:
      - id: notes
        skill: notes
      - id: publish
        skill: publish`,
  );
  await writeSkill(dir, "notes", "name: notes\ndescription: Writes release notes.");
  await writeSkill(dir, "publish", "name: publish\ndescription: Publishes packages.");
  return SkillRuntime.open({ dirs: [dir], defaults: false });
}

/** An engine whose model calls the `release` plan skill, then answers with its result. */
async function releaseEngine(extra: Partial<EngineOptions>) {
  const runtime = await planSkills();
  return AgentEngine.open({
    model: agentsModel({
      root: [
        { toolCalls: [{ name: "call_skill", arguments: { name: "release" } }] },
        (req) => ({ text: [lastOutput(req)] }),
      ],
      notes: [{ text: ["notes written"] }],
      publish: [{ text: ["published"] }],
    }),
    cwd: dir,
    ...runtime.engineOptions(),
    ...extra,
  });
}

describe("skills through the engine's guards", () => {
  it("checks plan steps against Skill(...) rules like call_skill", async () => {
    const events: Event[] = [];
    const engine = await releaseEngine({
      permissions: {
        rules: { allow: ["Skill(release)", "Skill(notes)"], deny: ["Skill(publish)"] },
        interactive: false,
      },
      listeners: [(ev) => events.push(ev)],
    });
    await engine.submitAndWait("ship it");
    expect(skillShape(events).filter((s) => s.startsWith("skill_"))).toEqual([
      "skill_started release depth=0 chain=-",
      "skill_started notes depth=1 chain=release",
      "skill_completed notes ok",
      expect.stringMatching(/^skill_completed release failed: .*publish.*denied/),
    ]);
    expect(events.at(-1)?.msg.type).toBe("turn_completed");
    await engine.close();
  });

  it("runs skill_start / skill_end hooks from the engine's hook runner", async () => {
    const seen: string[] = [];
    const engine = await releaseEngine({
      hooks: {
        hooks: [
          {
            point: "skill_start",
            matcher: "notes|publish",
            run: (ev) => {
              seen.push(`start ${(ev as { name: string }).name}`);
              return (ev as { name: string }).name === "publish"
                ? { decision: "deny", reason: "release freeze" }
                : undefined;
            },
          },
          {
            point: "skill_end",
            run: (ev) => void seen.push(`end ${(ev as { name: string }).name} ${(ev as { ok: boolean }).ok}`),
          },
        ],
      },
    });
    const events = await engine.submitAndWait("ship it");
    expect(seen).toEqual(["start notes", "end notes true", "start publish", "end release false"]);
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_completed",
      text: expect.stringContaining("release freeze"),
    });
    await engine.close();
  });
});

describe("compaction through the engine's guards", () => {
  const long = (tag: string) => `${tag} ${"context ".repeat(600)}`;

  it("lets a pre_compact hook block compaction and reports post_compact", async () => {
    const seen: string[] = [];
    const model = new SimClient({ script: { steps: [{ text: "ok" }], onExhausted: "repeat_last" } });
    const engine = await AgentEngine.open({
      model,
      context: { contextWindow: 4000, reserveOutputTokens: 0, compactAt: 0.5 },
      hooks: {
        hooks: [
          {
            point: "pre_compact",
            run: (ev) => {
              const e = ev as { strategy: string; trigger: string };
              seen.push(`pre ${e.strategy} ${e.trigger}`);
              return e.trigger === "manual" ? undefined : { decision: "deny", reason: "not now" };
            },
          },
          {
            point: "post_compact",
            run: (ev) => void seen.push(`post ${(ev as { strategy: string }).strategy}`),
          },
        ],
      },
    });
    await engine.submitAndWait(long("one"));
    const second = await engine.submitAndWait(long("two"));
    expect(second.filter((e) => e.msg.type === "warning").map((e) => e.msg)).toContainEqual({
      type: "warning",
      code: "compaction_blocked",
      message: "microcompact was blocked by a pre_compact hook: not now",
    });
    expect(engine.items[0]?.type).toBe("message"); // nothing was compacted
    await engine.submitAndWait({ type: "compact" });
    expect(engine.items[0]?.type).toBe("compaction");
    expect(seen).toContain("post handoff_summary");
    await engine.close();
  });

  it("re-adds the todo list after a compaction, and keeps it across the next one", async () => {
    const todos = { todos: [{ content: "migrate the database", status: "in_progress" }] };
    const builtins = builtinTools({ only: ["todo_write"] });
    const model = new SimClient({
      script: {
        steps: [
          { toolCalls: [{ name: "todo_write", arguments: todos }] },
          { text: `planned ${"a long plan ".repeat(800)}` },
          { text: `ok ${"a long answer ".repeat(800)}` },
        ],
        onExhausted: "repeat_last",
      },
    });
    const engine = await AgentEngine.open({ model, tools: builtins.tools, cwd: dir });
    await engine.submitAndWait("plan the work");
    await engine.submitAndWait("more");
    await engine.submitAndWait({ type: "compact" });
    const pinned = () =>
      engine.items.find(
        (i) => i.type === "message" && i.role === "system" && JSON.stringify(i).includes("Pinned state"),
      );
    expect(JSON.stringify(pinned())).toContain("migrate the database");
    // The todo_write call is gone from the history now; the next compaction carries the list over.
    expect(engine.items.some((i) => i.type === "function_call")).toBe(false);
    await engine.submitAndWait("again");
    await engine.submitAndWait({ type: "compact" });
    expect(JSON.stringify(pinned())).toContain("migrate the database");
    expect(engine.items.filter((i) => JSON.stringify(i).includes("Pinned state"))).toHaveLength(1);
    await engine.close();
    await builtins.close();
  });
});

// Level 1 where it can run; under CI=true it must (see test/helpers/sandbox.ts).
const level1 = await level1Tests();

describe("skill scripts in the sandbox", () => {
  it("runs a skill's script through the sandbox runner and returns only its output", async () => {
    await writeSkill(dir, "count", "name: count\ndescription: Counts.", "Run the script.", {
      "scripts/count.sh": 'echo "lines: $(printf "a\\nb\\n" | wc -l | tr -d " ")"\necho "cwd ok" >&2\n',
    });
    const runtime = await SkillRuntime.open({
      dirs: [dir],
      defaults: false,
      runScript: sandboxedScriptRunner({ level: 0 }),
    });
    const engine = await AgentEngine.open({
      model: new SimClient({
        script: [
          { toolCalls: [{ name: "run_skill_script", arguments: { name: "count", script: "count.sh" } }] },
          (req: ModelRequest) => ({ text: lastOutput(req) }),
        ],
      }),
      cwd: dir,
      ...runtime.engineOptions(),
    });
    const events = await engine.submitAndWait("count");
    const answer = events.at(-1)?.msg;
    expect(answer).toMatchObject({ type: "turn_completed" });
    expect(answer?.type === "turn_completed" && answer.text).toContain("lines: 2");
    await engine.close();
  });

  it.skipIf(!level1.run)(
    "confines a skill script at level 1: writes outside the working directory fail",
    async () => {
      // A host directory beside the working directory: visible outside, not inside the sandbox.
      const outsideDir = await mkdtemp(join(tmpdir(), "taifeng-escape-"));
      const outside = join(outsideDir, "escape.txt");
      await writeSkill(dir, "escape", "name: escape\ndescription: Tries to escape.", "Run it.", {
        "scripts/escape.sh": `echo inside > inside.txt && echo ok-inside\necho outside > ${outside} || echo blocked-outside\n`,
      });
      const runtime = await SkillRuntime.open({
        dirs: [dir],
        defaults: false,
        runScript: sandboxedScriptRunner({ level: 1 }),
      });
      const engine = await AgentEngine.open({
        model: new SimClient({
          script: [
            { toolCalls: [{ name: "run_skill_script", arguments: { name: "escape", script: "escape.sh" } }] },
            (req: ModelRequest) => ({ text: lastOutput(req) }),
          ],
        }),
        cwd: dir,
        ...runtime.engineOptions(),
      });
      const events = await engine.submitAndWait("go");
      const answer = events.at(-1)?.msg;
      expect(answer?.type === "turn_completed" && answer.text).toContain("ok-inside");
      expect(answer?.type === "turn_completed" && answer.text).toContain("blocked-outside");
      expect(existsSync(join(dir, "inside.txt"))).toBe(true);
      expect(existsSync(outside)).toBe(false);
      await engine.close();
      await rm(outsideDir, { recursive: true, force: true });
    },
    120_000,
  );
});
