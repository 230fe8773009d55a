import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AgentEngine } from "../src/loop/engine.ts";
import { SkillRegistry, SkillRuntime } from "../src/skill/index.ts";
import { agentsModel, FIXTURE_SKILLS } from "./helpers/skills.ts";

const NAMES = ["brand-guidelines", "internal-comms", "mcp-builder", "webapp-testing"];

describe("real skills (anthropics/skills fixtures, as they are)", () => {
  it.each(["lenient", "strict"] as const)(
    "load in %s mode with their bundled files and one warning",
    async (mode) => {
      const registry = await SkillRegistry.open({ dirs: [FIXTURE_SKILLS], defaults: false, mode });
      const snap = registry.current;
      expect(snap.usable.map((s) => s.name)).toEqual(NAMES);
      expect(snap.problems).toEqual([]);
      const files = Object.fromEntries(snap.usable.map((s) => [s.name, s.files.map((f) => f.path)]));
      expect(files).toEqual({
        "brand-guidelines": ["LICENSE.txt"],
        "internal-comms": [
          "LICENSE.txt",
          "examples/3p-updates.md",
          "examples/company-newsletter.md",
          "examples/faq-answers.md",
          "examples/general-comms.md",
        ],
        "mcp-builder": [
          "LICENSE.txt",
          "reference/evaluation.md",
          "reference/mcp_best_practices.md",
          "reference/node_mcp_server.md",
          "reference/python_mcp_server.md",
          "scripts/example_evaluation.xml",
          "scripts/requirements.txt",
        ],
        "webapp-testing": ["LICENSE.txt"],
      });
      // The Python helper webapp-testing mentions is absent: a warning at its first mention, nothing more.
      const problems = snap.reports.flatMap((r) => r.problems);
      expect(problems).toEqual([
        {
          severity: "warning",
          code: "missing_reference",
          message: "the body refers to `scripts/with_server.py`, which is not in the skill folder",
          file: join(FIXTURE_SKILLS, "webapp-testing", "SKILL.md"),
          line: 12,
          column: 4,
        },
      ]);
      const mcp = snap.skills.get("mcp-builder");
      expect(mcp?.manifest).toMatchObject({
        name: "mcp-builder",
        license: "Complete terms in LICENSE.txt",
        metadata: {},
      });
      expect(mcp?.body.startsWith("# MCP Server Development Guide")).toBe(true);
    },
  );

  it("puts all four in the catalog within the default budget", async () => {
    const runtime = await SkillRuntime.open({ dirs: [FIXTURE_SKILLS], defaults: false });
    const catalog = runtime.catalog();
    expect(catalog).toMatchObject({ listed: 4, namesOnly: 0, omitted: 0, descriptionCap: undefined });
    expect(catalog.tokens).toBeLessThan(2000);
    const lines = catalog.text.split("\n").filter((l) => l.startsWith("- "));
    expect(lines.map((l) => l.slice(2, l.indexOf(":")))).toEqual(NAMES);
    expect(lines[0]).toBe(
      `- brand-guidelines: Applies Anthropic's official brand colors and typography to any sort of artifact that may benefit from having Anthropic's look-and-feel. Use it when brand colors or style guidelines, visual formatting, or company design standards apply. (${join(FIXTURE_SKILLS, "brand-guidelines", "SKILL.md")})`,
    );
  });

  it("serves bodies, bundled files and refusals through read_skill in a real turn", async () => {
    const runtime = await SkillRuntime.open({ dirs: [FIXTURE_SKILLS], defaults: false });
    const reads = [
      { name: "mcp-builder" },
      { name: "mcp-builder", path: "reference/evaluation.md" },
      { name: "mcp-builder", path: "../webapp-testing/SKILL.md" },
      { name: "webapp-testing", path: "scripts/with_server.py" },
      { name: "nope" },
    ];
    const engine = await AgentEngine.open({
      model: agentsModel({
        root: [{ toolCalls: reads.map((r) => ({ name: "read_skill", arguments: r })) }, { text: ["read"] }],
      }),
      ...runtime.engineOptions(),
    });
    const events = await engine.submitAndWait("read them");
    // Read-only calls run in parallel and complete in any order: put them back in call order.
    const outputs = events
      .flatMap((e) => (e.msg.type === "tool_call_completed" ? [e.msg] : []))
      .sort((a, b) => (a.callId < b.callId ? -1 : 1));
    expect(outputs.map((o) => o.status)).toEqual(["ok", "ok", "error", "error", "error"]);
    const body = String(outputs[0]?.output);
    const mcpDir = join(FIXTURE_SKILLS, "mcp-builder");
    expect(
      body.startsWith(
        `# Skill: mcp-builder\nLocation: ${join(mcpDir, "SKILL.md")}\n\n# MCP Server Development Guide`,
      ),
    ).toBe(true);
    expect(body).toContain(
      `Bundled files (relative to ${mcpDir}; read one with read_skill {"name": "mcp-builder", "path": "<file>"}; run scripts/ files with run_skill_script):\n- LICENSE.txt (`,
    );
    expect(body).toContain("- reference/evaluation.md (");
    expect(outputs[1]?.output).toBe(await readFile(join(mcpDir, "reference", "evaluation.md"), "utf8"));
    expect(outputs[2]?.output).toBe(
      'Cannot read ../webapp-testing/SKILL.md: "../webapp-testing/SKILL.md" is outside the skill folder.',
    );
    expect(outputs[3]?.output).toBe(
      'Cannot read scripts/with_server.py: "scripts/with_server.py" does not exist in the skill folder.',
    );
    expect(outputs[4]?.output).toBe(`Unknown skill "nope". Available skills: ${NAMES.join(", ")}.`);
    await engine.close();
  });
});
