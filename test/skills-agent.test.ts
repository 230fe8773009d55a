import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isTaifengError } from "../src/errors.ts";
import type { ModelClient, ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { EnginePool } from "../src/loop/pool.ts";
import { type ScriptRequest, SkillRuntime, subprocessRunner } from "../src/skill/index.ts";
import { echoTool } from "./helpers/engine.ts";
import { agentsModel, tempDir, writeSkill } from "./helpers/skills.ts";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(() => cleanup());

function spy(model: ModelClient, requests: ModelRequest[]): ModelClient {
  return {
    id: model.id,
    stream: (req, opts) => {
      requests.push(req);
      return model.stream(req, opts);
    },
  };
}

describe("entry skill: a whole agent from one SKILL.md", () => {
  it("opens a pool session as the agent the skill defines (system, tools, model)", async () => {
    await writeSkill(
      dir,
      "reviewer",
      "name: reviewer\ndescription: Reviews code.\nmodel: sim:reviewer\nallowed-tools: Echo Skill",
      "You review code. Be terse.",
    );
    await writeSkill(dir, "lint", "name: lint\ndescription: Lints.");
    const skills = await SkillRuntime.open({ dirs: [dir], defaults: false });
    const requests: ModelRequest[] = [];
    const reviewerModel = spy(
      agentsModel({
        root: [
          { toolCalls: [{ name: "call_skill", arguments: { name: "reviewer" } }] },
          (req) => ({ text: [String((req.items.at(-1) as { output?: unknown }).output)] }),
        ],
      }),
      requests,
    );
    const pool = await EnginePool.create({
      model: agentsModel({ root: [{ text: ["default agent"] }] }),
      tools: [echoTool(), echoTool("shout")],
      system: "Default system.",
      resolveModel: async (spec) => {
        if (spec !== "sim:reviewer") throw new Error(`unexpected ${spec}`);
        return reviewerModel;
      },
      ...skills.poolOptions(),
    });
    try {
      const engine = await pool.getOrCreate({ sessionId: "s1", entrySkill: "reviewer" });
      expect(engine.modelId).toBe(reviewerModel.id);
      const events = await engine.submitAndWait("review this");
      const system = requests[0]?.system ?? "";
      expect(
        system.startsWith(
          'You are the agent defined by the skill "reviewer". Follow its instructions below.',
        ),
      ).toBe(true);
      expect(system).toContain(
        '<skill_instructions name="reviewer">\nYou review code. Be terse.\n</skill_instructions>',
      );
      expect(system).not.toContain("Default system.");
      expect(system).toContain("- lint: Lints.");
      expect(requests[0]?.tools.map((t) => t.name)).toEqual([
        "call_skill",
        "echo",
        "read_artifact",
        "read_skill",
      ]);
      // The entry skill is the first link of the chain: it cannot call itself.
      expect(events.at(-1)?.msg).toMatchObject({
        type: "turn_completed",
        text: "Skill cycle refused: reviewer -> reviewer.",
      });
      // Other sessions are unaffected.
      const plain = await pool.getOrCreate({ sessionId: "s2" });
      expect((await plain.submitAndWait("hi")).at(-1)?.msg).toMatchObject({ text: "default agent" });
    } finally {
      await pool.close();
    }
  });

  it("refuses unknown entry skills and pools without skills", async () => {
    await writeSkill(
      dir,
      "gated",
      "name: gated\ndescription: G.\ntaifeng:\n  requires: { env: [NOT_SET_ANYWHERE_42] }",
    );
    const skills = await SkillRuntime.open({ dirs: [dir], defaults: false });
    const pool = await EnginePool.create({ model: agentsModel({}), ...skills.poolOptions() });
    const bare = await EnginePool.create({ model: agentsModel({}) });
    try {
      const err = await pool.getOrCreate({ sessionId: "x", entrySkill: "nope" }).catch((e: unknown) => e);
      expect(isTaifengError(err, "unknown_skill") && err.message).toBe('entry skill "nope" does not exist');
      const gated = await pool.getOrCreate({ sessionId: "y", entrySkill: "gated" }).catch((e: unknown) => e);
      expect(isTaifengError(gated, "unknown_skill") && gated.message).toBe(
        'entry skill "gated" is not available: needs the environment variable NOT_SET_ANYWHERE_42',
      );
      const none = await bare.getOrCreate({ sessionId: "z", entrySkill: "gated" }).catch((e: unknown) => e);
      expect(isTaifengError(none, "invalid_config")).toBe(true);
    } finally {
      await pool.close();
      await bare.close();
    }
  });
});

describe("skill scripts and eligibility in a turn", () => {
  it("runs a bundled script through the runner seam; only its output enters the context", async () => {
    await writeSkill(
      dir,
      "stats",
      "name: stats\ndescription: Counts words.",
      "Run scripts/count.mjs with the text.",
      {
        "scripts/count.mjs":
          "const text = process.argv.slice(2).join(' '); console.log(text.split(/\\s+/).length + ' words in ' + process.env.TAIFENG_SKILL_NAME);",
      },
    );
    const seen: ScriptRequest[] = [];
    const real = subprocessRunner();
    const skills = await SkillRuntime.open({
      dirs: [dir],
      defaults: false,
      runScript: (req) => {
        seen.push(req);
        return real(req);
      },
    });
    const engine = await AgentEngine.open({
      model: agentsModel({
        root: [
          {
            toolCalls: [
              {
                name: "run_skill_script",
                arguments: { name: "stats", script: "count.mjs", args: ["one two three"] },
              },
              { name: "run_skill_script", arguments: { name: "stats", script: "../SKILL.md" } },
            ],
          },
          { text: ["counted"] },
        ],
      }),
      cwd: dir,
      ...skills.engineOptions(),
    });
    const events = await engine.submitAndWait("count");
    const outputs = events.flatMap((e) => (e.msg.type === "tool_call_completed" ? [e.msg] : []));
    expect(outputs).toMatchObject([
      {
        status: "ok",
        output: "Script scripts/count.mjs exited with code 0.\n--- stdout ---\n3 words in stats",
      },
      { status: "error", output: 'Skill "stats": ../SKILL.md is not a file in its scripts/ folder.' },
    ]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      args: ["one two three"],
      cwd: dir,
      timeoutMs: 120_000,
      maxOutputBytes: 65_536,
    });
    await engine.close();
  });

  it("leaves ineligible skills out of the catalog and refuses to run them", async () => {
    await writeSkill(
      dir,
      "linux-only",
      "name: linux-only\ndescription: L.\ntaifeng:\n  requires: { os: [plan9] }",
    );
    await writeSkill(dir, "fine", "name: fine\ndescription: F.");
    const skills = await SkillRuntime.open({ dirs: [dir], defaults: false });
    const requests: ModelRequest[] = [];
    const engine = await AgentEngine.open({
      model: spy(
        agentsModel({
          root: [
            { toolCalls: [{ name: "call_skill", arguments: { name: "linux-only" } }] },
            { text: ["ok"] },
          ],
        }),
        requests,
      ),
      ...skills.engineOptions(),
    });
    const events = await engine.submitAndWait("go");
    expect(requests[0]?.system).toContain("- fine: F.");
    expect(requests[0]?.system).not.toContain("linux-only");
    expect(events.find((e) => e.msg.type === "tool_call_completed")?.msg).toMatchObject({
      status: "error",
      output: `Skill "linux-only" is not available: runs only on plan9 (this is ${process.platform}).`,
    });
    await engine.close();
  });

  it("fails the turn with a clear error when a host tool takes a skill tool's name", async () => {
    await writeSkill(dir, "a", "name: a\ndescription: A.");
    const skills = await SkillRuntime.open({ dirs: [dir], defaults: false });
    const engine = await AgentEngine.open({
      model: agentsModel({ root: [{ text: ["never"] }] }),
      tools: [echoTool("read_skill")],
      ...skills.engineOptions(),
    });
    const events = await engine.submitAndWait("go");
    expect(events.map((e) => e.msg.type)).toEqual(["turn_started", "turn_failed"]);
    expect(events[1]?.msg).toMatchObject({
      error: {
        code: "prepare_failed",
        source: "engine",
        message: 'the turn could not be prepared: two tools are named "read_skill"',
      },
    });
    await engine.close();
  });

  it("adds nothing to the prefix when no skill is usable", async () => {
    const skills = await SkillRuntime.open({ dirs: [dir], defaults: false });
    const requests: ModelRequest[] = [];
    const engine = await AgentEngine.open({
      model: spy(agentsModel({ root: [{ text: ["ok"] }] }), requests),
      system: "Plain.",
      tools: [echoTool()],
      ...skills.engineOptions(),
    });
    await engine.submitAndWait("go");
    expect(requests[0]?.system).toBe("Plain.");
    expect(requests[0]?.tools.map((t) => t.name)).toEqual(["echo", "read_artifact"]);
    await engine.close();
  });
});
