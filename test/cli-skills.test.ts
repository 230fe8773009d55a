import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Event } from "../src/protocol/index.ts";
import { runCli } from "./helpers/cli.ts";
import { FIXTURE_SKILLS, tempDir, writeSkill } from "./helpers/skills.ts";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("taifeng-cli-skills-"));
});
afterEach(() => cleanup());

const CLAUDE_STYLE = "name: helper\ndescription: Helps.\nmodel: sonnet\nallowed-tools: [Read, Grep]";

describe("taifeng skills validate", { timeout: 60_000 }, () => {
  it("passes the real fixture skills in both modes and lists every skill with its problems", async () => {
    for (const mode of [[], ["--strict"]]) {
      const res = await runCli(["skills", "validate", FIXTURE_SKILLS, "--json", ...mode]);
      expect(res.code).toBe(0);
      const doc = JSON.parse(res.stdout);
      expect(doc).toMatchObject({
        dir: FIXTURE_SKILLS,
        mode: mode.length ? "strict" : "lenient",
        ok: true,
        problems: [],
      });
      expect(
        doc.skills.map((s: { name: string; ok: boolean; warnings: number }) => [s.name, s.ok, s.warnings]),
      ).toEqual([
        ["brand-guidelines", true, 0],
        ["internal-comms", true, 0],
        ["mcp-builder", true, 0],
        ["webapp-testing", true, 1],
      ]);
      expect(doc.skills[3].problems[0]).toMatchObject({
        severity: "warning",
        code: "missing_reference",
        line: 12,
        column: 4,
      });
    }
  });

  it("accepts one skill folder too", async () => {
    const res = await runCli(["skills", "validate", join(FIXTURE_SKILLS, "mcp-builder"), "--json"]);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).skills.map((s: { name: string }) => s.name)).toEqual(["mcp-builder"]);
  });

  it("fails in strict mode on Claude Code fields that lenient mode accepts", async () => {
    await writeSkill(dir, "helper", CLAUDE_STYLE);
    const lenient = await runCli(["skills", "validate", dir, "--json"]);
    expect(lenient.code).toBe(0);
    expect(JSON.parse(lenient.stdout).skills[0]).toMatchObject({
      name: "helper",
      ok: true,
      errors: 0,
      warnings: 0,
    });
    const strict = await runCli(["skills", "validate", dir, "--json", "--strict"]);
    expect(strict.code).toBe(1);
    const skill = JSON.parse(strict.stdout).skills[0];
    expect(skill.problems.map((p: { code: string; line: number }) => `${p.code}@${p.line}`)).toEqual([
      "unknown_field@4",
      "invalid_field@5",
    ]);
    const human = await runCli(["skills", "validate", dir, "--strict"]);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`✗ helper (${join(dir, "helper", "SKILL.md")})`);
    expect(human.stdout).toContain(
      `${join(dir, "helper", "SKILL.md")}:4:1: error unknown_field: field \`model\` is not part of the Agent Skills spec (a Claude Code extension)`,
    );
    expect(human.stdout).toContain("1 skill(s) checked in strict mode: 0 valid, 1 with errors");
  });

  it("exits 1 on a skill that does not parse, and 2 on a missing directory", async () => {
    await mkdir(join(dir, "broken"));
    await writeFile(join(dir, "broken", "SKILL.md"), "---\nname: broken\ndescription: a: b\n---\n");
    const res = await runCli(["skills", "validate", dir, "--json"]);
    expect(res.code).toBe(1);
    expect(JSON.parse(res.stdout).skills[0].problems[0]).toMatchObject({ code: "yaml_syntax", line: 3 });
    const missing = await runCli(["skills", "validate", join(dir, "nope")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("is not a directory");
    const empty = await runCli(["skills", "validate", join(dir, "broken", ".."), "--json"]);
    expect(empty.code).toBe(1);
  });
});

describe("taifeng skills ls", { timeout: 60_000 }, () => {
  it("shows project, user and --skills skills with precedence and eligibility", async () => {
    const project = join(dir, "project");
    const home = join(dir, "home");
    const extra = join(dir, "extra");
    await writeSkill(
      join(project, ".taifeng", "skills"),
      "deploy",
      "name: deploy\ndescription: Project deploy.",
    );
    await writeSkill(join(project, ".agents", "skills"), "review", "name: review\ndescription: Reviews.");
    await writeSkill(join(home, ".taifeng", "skills"), "deploy", "name: deploy\ndescription: User deploy.");
    await writeSkill(
      join(home, ".taifeng", "skills"),
      "gpu",
      "name: gpu\ndescription: G.\ntaifeng:\n  requires: { bins: [definitely-not-installed-xyz] }",
    );
    await writeSkill(extra, "review", "name: review\ndescription: Host review.");
    const res = await runCli(["skills", "ls", "--json", "--skills", extra], {
      cwd: project,
      env: { HOME: home },
    });
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout);
    expect(doc.roots.map((r: { source: string }) => r.source)).toEqual([
      "host",
      "project",
      "project",
      "user",
    ]);
    expect(
      doc.skills.map((s: { name: string; source: string; status: string; reasons: string[] }) => [
        s.name,
        s.source,
        s.status,
        s.reasons,
      ]),
    ).toEqual([
      ["review", "host", "ok", []],
      ["deploy", "project", "ok", []],
      ["review", "project", "shadowed", [`shadowed by ${join(extra, "review", "SKILL.md")}`]],
      [
        "deploy",
        "user",
        "shadowed",
        [`shadowed by ${join(project, ".taifeng", "skills", "deploy", "SKILL.md")}`],
      ],
      ["gpu", "user", "ineligible", ["needs `definitely-not-installed-xyz` on PATH"]],
    ]);
    const human = await runCli(["skills", "ls"], { cwd: project, env: { HOME: home } });
    expect(human.stdout).toContain(
      "gpu     user     ineligible: needs `definitely-not-installed-xyz` on PATH",
    );
  });
});

describe("taifeng run --skills", { timeout: 60_000 }, () => {
  it("puts the skills in the prefix: the model reads and calls them (skill on its own sim model)", async () => {
    const skills = join(dir, "skills");
    await writeSkill(
      skills,
      "greet",
      "name: greet\ndescription: Greets people.\nmodel: sim:greet.json",
      "Greet warmly.",
    );
    await writeFile(join(dir, "greet.json"), JSON.stringify([{ text: "Hello from the greet skill" }]));
    await writeFile(
      join(dir, "root.json"),
      JSON.stringify([
        { toolCalls: [{ name: "read_skill", arguments: { name: "greet" } }] },
        { toolCalls: [{ name: "call_skill", arguments: { name: "greet", input: "Ada" } }] },
        { text: "All done." },
      ]),
    );
    // Skill activations ask by default (as in Claude Code); a run without a terminal denies
    // asks, so the user grants this skill with a rule.
    const allow = ["--allow", "Skill(greet)"];
    const res = await runCli(
      ["run", "--json", ...allow, "--skills", skills, "--model", "sim:root.json", "hi"],
      {
        cwd: dir,
        env: { HOME: dir },
      },
    );
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const events = res.stdout
      .trim()
      .split("\n")
      .map((l) => Event.parse(JSON.parse(l)));
    const done = events.filter((e) => e.msg.type === "tool_call_completed").map((e) => e.msg);
    expect(done).toMatchObject([
      { name: "read_skill", status: "ok", output: expect.stringContaining("# Skill: greet\n") },
      { name: "call_skill", status: "ok", output: "Hello from the greet skill" },
    ]);
    expect(events.filter((e) => e.msg.type.startsWith("skill_")).map((e) => e.msg)).toMatchObject([
      { type: "skill_started", name: "greet", depth: 0 },
      { type: "skill_completed", name: "greet", ok: true },
    ]);
    const human = await runCli(["run", ...allow, "--skills", skills, "--model", "sim:root.json", "hi"], {
      cwd: dir,
      env: { HOME: dir },
    });
    expect(human.code).toBe(0);
    expect(human.stderr).toContain("◆ skill greet");
    expect(human.stderr).toMatch(/◇ skill greet \(\d+ ms\)/);
    const denied = await runCli(["run", "--json", "--skills", skills, "--model", "sim:root.json", "hi"], {
      cwd: dir,
      env: { HOME: dir },
    });
    const calls = denied.stdout
      .trim()
      .split("\n")
      .map((l) => Event.parse(JSON.parse(l)).msg)
      .filter((m) => m.type === "tool_call_completed" && m.name === "call_skill");
    expect(calls).toMatchObject([{ status: "denied" }]);
  });

  it("rejects a --skills folder that does not exist", async () => {
    const res = await runCli(["run", "--skills", join(dir, "nope"), "hi"], { cwd: dir, env: { HOME: dir } });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(`taifeng: skills directory ${join(dir, "nope")} does not exist\n`);
  });
});
