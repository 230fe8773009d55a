import { describe, expect, it } from "vitest";
import { parseFrontMatter } from "./frontmatter.ts";
import { checkManifest } from "./manifest.ts";
import type { SkillMode } from "./types.ts";

function check(text: string, mode: SkillMode, folder = "my-skill") {
  const fm = parseFrontMatter(text, "/s/my-skill/SKILL.md");
  if (!fm.ok) return { manifest: undefined, problems: [fm.problem] };
  return checkManifest(fm.value, folder, "/s/my-skill/SKILL.md", mode);
}

const brief = (r: ReturnType<typeof check>) =>
  r.problems.map((p) => `${p.severity} ${p.code} ${p.line ?? "-"}:${p.column ?? "-"}`);

describe("front matter", () => {
  it("splits YAML from the body and reports the body's first line", () => {
    const fm = parseFrontMatter("---\nname: a\ndescription: b\n---\n# Title\ntext\n", "f");
    expect(fm.ok).toBe(true);
    if (!fm.ok) return;
    expect(fm.value.data).toEqual({ name: "a", description: "b" });
    expect(fm.value.body).toBe("# Title\ntext\n");
    expect(fm.value.bodyLine).toBe(5);
    expect(fm.value.locate(["description"])).toEqual({ line: 3, column: 14 });
    expect(fm.value.locate(["description"], { key: true })).toEqual({ line: 3, column: 1 });
  });

  it("accepts CRLF line endings and a BOM", () => {
    const fm = parseFrontMatter("\uFEFF---\r\nname: a\r\ndescription: b\r\n---\r\nbody\r\n", "f");
    expect(fm.ok && fm.value.data).toEqual({ name: "a", description: "b" });
  });

  it("reports YAML syntax errors at their file line", () => {
    const fm = parseFrontMatter("---\nname: a\ndescription: uses: colons\n---\n", "/x/SKILL.md");
    expect(fm.ok).toBe(false);
    if (fm.ok) return;
    expect(fm.problem).toMatchObject({
      severity: "error",
      code: "yaml_syntax",
      file: "/x/SKILL.md",
      line: 3,
    });
    expect(fm.problem.message).toContain("not valid YAML");
  });

  it("reports a duplicate key at the second occurrence", () => {
    const fm = parseFrontMatter("---\nname: a\ndescription: b\nname: c\n---\n", "f");
    expect(!fm.ok && fm.problem).toMatchObject({ code: "yaml_syntax", line: 4 });
  });

  it("requires an opening and a closing delimiter", () => {
    const none = parseFrontMatter("# Just markdown\n", "f");
    expect(!none.ok && none.problem).toMatchObject({ code: "no_front_matter", line: 1 });
    const open = parseFrontMatter("---\nname: a\n", "f");
    expect(!open.ok && open.problem.message).toContain("never closed");
  });
});

describe("manifest: lenient mode (default)", () => {
  it("accepts a spec-conforming skill without problems", () => {
    const r = check(
      "---\nname: my-skill\ndescription: Does things.\nlicense: MIT\ncompatibility: Needs git\nmetadata:\n  author: me\nallowed-tools: Read Bash(git log:*)\n---\nBody\n",
      "lenient",
    );
    expect(r.problems).toEqual([]);
    expect(r.manifest).toMatchObject({
      name: "my-skill",
      description: "Does things.",
      license: "MIT",
      compatibility: "Needs git",
      metadata: { author: "me" },
      allowedTools: ["Read", "Bash(git log:*)"],
      disableModelInvocation: false,
    });
  });

  it("accepts Claude Code's fields silently and keeps them", () => {
    const r = check(
      [
        "---",
        "name: my-skill",
        "description: D",
        "when_to_use: When asked to frobnicate",
        "argument-hint: '[file]'",
        "disable-model-invocation: true",
        "user-invocable: false",
        "model: sim:other",
        "effort: high",
        "context: fork",
        "agent: Explore",
        "allowed-tools: [Read, Grep]",
        "paths: ['**/*.ts']",
        "---",
      ].join("\n"),
      "lenient",
    );
    expect(r.problems).toEqual([]);
    expect(r.manifest).toMatchObject({
      model: "sim:other",
      whenToUse: "When asked to frobnicate",
      disableModelInvocation: true,
      allowedTools: ["Read", "Grep"],
      extra: { effort: "high", context: "fork", agent: "Explore", "user-invocable": false },
    });
  });

  it("warns (with lines) instead of failing on deviations, and names a nameless skill after its folder", () => {
    const r = check("---\ndescription: D\nfoo: 1\nmetadata:\n  n: 2\n---\n", "lenient");
    expect(brief(r)).toEqual([
      "warning unknown_field 3:1",
      "warning missing_name 2:1",
      "warning invalid_field 5:6",
    ]);
    expect(r.manifest?.name).toBe("my-skill");
    expect(r.manifest?.metadata).toEqual({ n: "2" });
  });

  it("warns on a bad or mismatched name but keeps the declared one", () => {
    const r = check("---\nname: Bad--Name\ndescription: D\n---\n", "lenient");
    expect(brief(r)).toEqual(["warning invalid_name 2:7", "warning name_mismatch 2:7"]);
    expect(r.manifest?.name).toBe("Bad--Name");
  });

  it("skips a skill whose description is missing or empty", () => {
    const missing = check("---\nname: my-skill\n---\n", "lenient");
    expect(missing.manifest).toBeUndefined();
    expect(brief(missing)).toEqual(["error missing_description 2:1"]);
    const empty = check("---\nname: my-skill\ndescription: '  '\n---\n", "lenient");
    expect(empty.manifest).toBeUndefined();
    expect(brief(empty)).toEqual(["error missing_description 3:1"]);
  });

  it("rejects front matter that is not a mapping", () => {
    const r = check("---\n- a\n- b\n---\n", "lenient");
    expect(r.manifest).toBeUndefined();
    expect(brief(r)).toEqual(["error not_a_mapping 2:1"]);
  });
});

describe("manifest: strict mode (the Agent Skills spec)", () => {
  it("accepts a conforming skill", () => {
    expect(check("---\nname: my-skill\ndescription: D\n---\n", "strict").problems).toEqual([]);
  });

  it("turns every deviation into an error", () => {
    const long = "x".repeat(1025);
    const r = check(
      `---\nname: My_Skill\ndescription: ${long}\ncompatibility: ''\nmetadata:\n  v: 1\nallowed-tools: [Read]\nmodel: sonnet\ntaifeng:\n  requires: {bins: [git]}\nextra: 1\n---\n`,
      "strict",
    );
    expect(brief(r)).toEqual([
      "error unknown_field 8:1",
      "error unknown_field 9:1",
      "error unknown_field 11:1",
      "error description_too_long 3:14",
      "error invalid_name 2:7",
      "error name_mismatch 2:7",
      "error invalid_field 4:16",
      "error invalid_field 6:6",
      "error invalid_field 7:16",
    ]);
    expect(r.problems[0]?.message).toBe(
      "field `model` is not part of the Agent Skills spec (a Claude Code extension)",
    );
    expect(r.problems[1]?.message).toBe(
      "field `taifeng` is not part of the Agent Skills spec (a Taifeng extension)",
    );
    // Strict mode still yields a manifest (it is the loader that treats errors as unusable).
    expect(r.manifest?.name).toBe("My_Skill");
  });

  it("checks the name rules: 1-64 chars, lowercase, digits, single inner hyphens", () => {
    const ok = ["a", "a1-b2", "x".repeat(64)];
    const bad = ["-a", "a-", "a--b", "A", "a_b", "x".repeat(65)];
    for (const name of ok)
      expect(check(`---\nname: ${name}\ndescription: D\n---\n`, "strict", name).problems).toEqual([]);
    for (const name of bad)
      expect(brief(check(`---\nname: '${name}'\ndescription: D\n---\n`, "strict", name))).toEqual([
        "error invalid_name 2:7",
      ]);
  });
});

describe("manifest: the taifeng block", () => {
  it("parses requirements and plans in lenient mode", () => {
    const r = check(
      "---\nname: my-skill\ndescription: D\ntaifeng:\n  requires:\n    bins: [git]\n    env: TOKEN\n  plan:\n    steps:\n      - skill: a\n---\n",
      "lenient",
    );
    expect(r.problems).toEqual([]);
    expect(r.manifest?.requires).toEqual({ bins: ["git"], anyBins: [], env: ["TOKEN"], os: [] });
    expect(r.manifest?.plan?.steps).toHaveLength(1);
  });

  it("reports plan and requirement problems as errors at their line, even in lenient mode", () => {
    const r = check(
      "---\nname: my-skill\ndescription: D\ntaifeng:\n  requires:\n    bin: [git]\n  plan:\n    steps:\n      - skill: a\n        input: '{{later}}'\n---\n",
      "lenient",
    );
    expect(brief(r)).toEqual(["error invalid_extension 6:5", "error invalid_plan 10:16"]);
    expect(r.problems[1]?.message).toContain("`later` is not a step that has finished");
    expect(r.manifest?.plan).toBeUndefined();
  });
});
