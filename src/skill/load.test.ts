import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tempDir, writeSkill } from "../../test/helpers/skills.ts";
import { loadSkillFolder, loadSkills, skillRoots } from "./load.ts";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(() => cleanup());

const host = { env: { PATH: "/nonexistent" }, platform: "linux" };

describe("skill discovery", () => {
  it("orders roots host > project (.taifeng, .agents) > user", () => {
    expect(skillRoots({ dirs: ["a", "/abs/b"], cwd: "/proj", home: "/home/u" })).toEqual([
      { path: "/proj/a", source: "host", required: true },
      { path: "/abs/b", source: "host", required: true },
      { path: "/proj/.taifeng/skills", source: "project", required: false },
      { path: "/proj/.agents/skills", source: "project", required: false },
      { path: "/home/u/.taifeng/skills", source: "user", required: false },
    ]);
    expect(skillRoots({ dirs: ["x"], cwd: "/p", defaults: false })).toHaveLength(1);
  });

  it("resolves a name to its highest-precedence skill and reports the shadowed ones", async () => {
    const project = join(dir, "proj");
    const home = join(dir, "home");
    await writeSkill(
      join(project, ".taifeng", "skills"),
      "deploy",
      "name: deploy\ndescription: project deploy",
    );
    await writeSkill(
      join(project, ".agents", "skills"),
      "deploy",
      "name: deploy\ndescription: agents deploy",
    );
    await writeSkill(join(home, ".taifeng", "skills"), "deploy", "name: deploy\ndescription: user deploy");
    await writeSkill(join(home, ".taifeng", "skills"), "notes", "name: notes\ndescription: user notes");
    const load = await loadSkills(skillRoots({ cwd: project, home }), { host });
    expect([...load.skills.keys()].sort()).toEqual(["deploy", "notes"]);
    expect(load.skills.get("deploy")?.manifest.description).toBe("project deploy");
    expect(load.skills.get("notes")?.source).toBe("user");
    const shadowed = load.reports.filter((r) => r.skill?.shadowedBy !== undefined);
    expect(shadowed.map((r) => [r.skill?.manifest.description, r.problems.map((p) => p.code)])).toEqual([
      ["agents deploy", ["shadowed"]],
      ["user deploy", ["shadowed"]],
    ]);
    expect(load.problems).toEqual([]);
  });

  it("flags two skills with one name in the same root as an error", async () => {
    await writeSkill(dir, "one", "name: same\ndescription: first");
    await writeSkill(dir, "two", "name: same\ndescription: second");
    const load = await loadSkills([{ path: dir, source: "host", required: true }], { host });
    expect(load.skills.get("same")?.dir).toBe(join(dir, "one"));
    const second = load.reports.find((r) => r.dir === join(dir, "two"));
    expect(second?.problems.map((p) => `${p.severity} ${p.code} ${p.line}:${p.column}`)).toEqual([
      "warning name_mismatch 2:7",
      "error duplicate_name 2:7",
    ]);
  });

  it("treats a root holding SKILL.md as one skill, and reports a missing host root", async () => {
    const one = await writeSkill(dir, "solo", "name: solo\ndescription: alone");
    const load = await loadSkills(
      [
        { path: one, source: "host", required: true },
        { path: join(dir, "missing"), source: "host", required: true },
        { path: join(dir, "also-missing"), source: "user", required: false },
      ],
      { host },
    );
    expect([...load.skills.keys()]).toEqual(["solo"]);
    expect(load.problems.map((p) => `${p.code} ${p.file}`)).toEqual([`root_missing ${join(dir, "missing")}`]);
  });

  it("marks skills ineligible for unmet requirements, errors in strict mode, and broken plans", async () => {
    await writeSkill(
      dir,
      "needs-git",
      "name: needs-git\ndescription: d\ntaifeng:\n  requires: { bins: [git], env: [GH_TOKEN] }",
    );
    await writeSkill(dir, "Loose", "name: Loose\ndescription: d");
    await writeSkill(
      dir,
      "combo",
      "name: combo\ndescription: d\ntaifeng:\n  plan:\n    steps:\n      - skill: needs-git\n      - skill: nowhere",
    );
    await writeSkill(
      dir,
      "runner",
      "name: runner\ndescription: d\ntaifeng:\n  plan:\n    steps:\n      - script: absent.sh",
    );
    const roots = [{ path: dir, source: "host" as const, required: true }];
    const lenient = await loadSkills(roots, { host });
    const reasons = (name: string) => lenient.skills.get(name)?.ineligible;
    expect(reasons("needs-git")).toEqual(["needs `git` on PATH", "needs the environment variable GH_TOKEN"]);
    expect(reasons("Loose")).toEqual([]);
    expect(reasons("combo")).toEqual([
      'its plan calls "needs-git", which is not available (needs `git` on PATH)',
    ]);
    expect(reasons("runner")).toEqual([
      "invalid in lenient mode: plan step steps[0] runs `scripts/absent.sh`, which is not in the skill folder",
    ]);
    const runnerProblem = lenient.skills.get("runner")?.problems[0];
    expect(runnerProblem).toMatchObject({ code: "invalid_plan", line: 7 });
    // Naming a skill that exists but is ineligible is not a problem in the file (only here);
    // naming one that does not exist is.
    expect(lenient.skills.get("combo")?.problems.map((p) => `${p.code} ${p.line} ${p.message}`)).toEqual([
      'invalid_plan 8 plan step steps[1] calls skill "nowhere", which does not exist',
    ]);
    await writeSkill(
      dir,
      "orphan",
      "name: orphan\ndescription: d\ntaifeng:\n  plan:\n    steps:\n      - skill: nowhere",
    );
    const again = await loadSkills(roots, { host });
    expect(again.skills.get("orphan")?.problems).toMatchObject([
      {
        severity: "error",
        code: "invalid_plan",
        line: 7,
        column: 9,
        message: 'plan step steps[0] calls skill "nowhere", which does not exist',
      },
    ]);
    const strict = await loadSkills(roots, { host, mode: "strict" });
    expect(strict.skills.get("Loose")?.ineligible[0]).toMatch(
      /^invalid in strict mode: `name` "Loose" must be/,
    );
  });
});

describe("loading one skill folder", () => {
  it("lists bundled files, follows links only inside the folder, and warns on missing references", async () => {
    const skillDir = await writeSkill(
      dir,
      "docs",
      "name: docs\ndescription: d",
      "Run `scripts/build.sh` then `scripts/missing.py`.\nSee [guide](./reference/guide.md), [gone](reference/gone.md#x) and [site](https://x.y).",
      { "scripts/build.sh": "echo hi", "reference/guide.md": "# Guide" },
    );
    await writeFile(join(dir, "outside.txt"), "secret");
    await symlink(join(dir, "outside.txt"), join(skillDir, "leak.txt"));
    await symlink(join(skillDir, "reference", "guide.md"), join(skillDir, "alias.md"));
    await mkdir(join(skillDir, ".git"));
    await writeFile(join(skillDir, ".git", "HEAD"), "x");
    const report = await loadSkillFolder(skillDir);
    expect(report.skill?.files).toEqual([
      { path: "alias.md", bytes: 7 },
      { path: "reference/guide.md", bytes: 7 },
      { path: "scripts/build.sh", bytes: 7 },
    ]);
    expect(report.problems.map((p) => `${p.code} ${p.line}:${p.column} ${p.message}`)).toEqual([
      "missing_reference 6:30 the body refers to `scripts/missing.py`, which is not in the skill folder",
      "missing_reference 7:41 the body refers to `reference/gone.md`, which is not in the skill folder",
    ]);
    expect(report.skill?.body).toMatch(/^Run `scripts/);
  });

  it("skips an unreadable skill with a located problem", async () => {
    await mkdir(join(dir, "broken"));
    await writeFile(join(dir, "broken", "SKILL.md"), "---\nname: broken\ndescription: [unclosed\n---\n");
    const report = await loadSkillFolder(join(dir, "broken"));
    expect(report.skill).toBeUndefined();
    expect(report.problems).toMatchObject([
      { code: "yaml_syntax", line: 3, file: join(dir, "broken", "SKILL.md") },
    ]);
  });
});
