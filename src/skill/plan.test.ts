import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parsePlan, planScripts, planSkills, renderTemplate, templateRefs } from "./plan.ts";
import { holds } from "./plan-run.ts";

const plan = (yaml: string) => parsePlan(parse(yaml));
const issues = (yaml: string) => plan(yaml).issues.map((i) => `${i.path.join(".")}: ${i.message}`);

describe("plan parsing", () => {
  it("parses serial, parallel and when into a tree with labels", () => {
    const r = plan(`
steps:
  - id: facts
    skill: gather
  - parallel:
      - id: summary
        skill: summarize
        input: "{{facts}}"
      - id: count
        script: count.sh
        args: ["{{facts}}", 3]
  - id: alert
    when: { any: [{ step: summary, contains: URGENT }, { not: { step: count, ok: true } }] }
    skill: escalate
    continueOnError: true
output: "{{summary}} / {{alert}}"
`);
    expect(r.issues).toEqual([]);
    const p = r.plan;
    expect(p?.output).toBe("{{summary}} / {{alert}}");
    expect(p?.steps.map((s) => s.kind)).toEqual(["skill", "parallel", "skill"]);
    expect(p?.steps[0]).toMatchObject({
      kind: "skill",
      id: "facts",
      skill: "gather",
      input: "{{input}}",
      label: "steps[0]",
    });
    const group = p?.steps[1];
    expect(group?.kind === "parallel" && group.steps.map((s) => s.label)).toEqual([
      "steps[1].parallel[0]",
      "steps[1].parallel[1]",
    ]);
    expect(group?.kind === "parallel" && group.steps[1]).toMatchObject({
      kind: "script",
      args: ["{{facts}}", "3"],
    });
    expect(p?.steps[2]).toMatchObject({
      continueOnError: true,
      when: {
        kind: "any",
        of: [
          { kind: "test", step: "summary", test: "contains", value: "URGENT" },
          { kind: "not", of: { kind: "test", step: "count", test: "ok", value: true } },
        ],
      },
    });
    expect(p && planSkills(p)).toEqual(["gather", "summarize", "escalate"]);
    expect(p && planScripts(p)).toEqual([{ script: "count.sh", label: "steps[1].parallel[1]" }]);
  });

  it("refuses references to steps that have not finished: later steps and parallel siblings", () => {
    expect(
      issues(`
steps:
  - skill: a
    input: "{{b}}"
  - parallel:
      - id: b
        skill: b
      - skill: c
        when: { step: b, ok: true }
  - skill: d
    input: "{{b}} {{input}}"
`),
    ).toEqual([
      "steps.0.input: `b` is not a step that has finished at this point (use `input` or the id of an earlier step outside this parallel group)",
      "steps.1.parallel.1.when.step: `b` is not a step that has finished at this point (use `input` or the id of an earlier step outside this parallel group)",
    ]);
  });

  it("lets a step inside a serial branch of a parallel group use its earlier siblings", () => {
    expect(
      issues(`
steps:
  - parallel:
      - serial:
          - { id: x, skill: a }
          - { skill: b, input: "{{x}}" }
      - { id: y, skill: c }
  - { skill: d, input: "{{x}} {{y}}" }
`),
    ).toEqual([]);
  });

  it("reports shape errors with their paths", () => {
    expect(
      issues(`
steps:
  - skill: a
    script: b.sh
  - {}
  - id: input
    skill: a
  - { id: dup, skill: a }
  - { id: dup, skill: b, retries: 2 }
  - { parallel: [] }
  - { skill: a, when: { step: input, matches: "(" } }
  - { skill: a, when: { step: input } }
extra: 1
`),
    ).toEqual([
      "extra: unknown plan field `extra` (allowed: steps, output)",
      "steps.0: a step has exactly one of skill, script, serial, parallel (found skill, script)",
      "steps.1: a step needs exactly one of: skill, script, serial, parallel",
      "steps.2.id: `input` is reserved for the plan's input",
      "steps.4.retries: unknown field `retries` in a skill step (allowed: skill, input, id, when, continueOnError)",
      "steps.4.id: duplicate step id `dup`",
      "steps.5.parallel: `parallel` must be a non-empty list of steps",
      "steps.6.when.matches: `matches` is not a valid regular expression: Invalid regular expression: /(/: Unterminated group",
      "steps.7.when: a condition has `step` and exactly one of ok, ran, contains, matches, equals",
    ]);
    expect(issues("steps: []")).toEqual(["steps: `steps` must be a non-empty list of steps"]);
    expect(issues("- skill: a")).toEqual([
      ": a plan must be a mapping with `steps` (a list) and optionally `output`",
    ]);
  });
});

describe("templates and conditions", () => {
  it("renders references and lists them", () => {
    expect(templateRefs("a {{ input }} b {{x}}")).toEqual(["input", "x"]);
    expect(renderTemplate("a {{ input }} b {{x}} {{y}}", (n) => (n === "y" ? "" : n.toUpperCase()))).toBe(
      "a INPUT b X ",
    );
  });

  it("evaluates tests and combinators on recorded results", () => {
    const results = new Map([
      ["a", { status: "ok", output: "Risk: HIGH\n" }],
      ["b", { status: "error", output: "boom" }],
      ["c", { status: "skipped", output: "" }],
    ]);
    const t = (
      step: string,
      test: "ok" | "ran" | "contains" | "matches" | "equals",
      value: string | boolean,
    ) => holds({ kind: "test", step, test, value }, results);
    expect(t("a", "ok", true)).toBe(true);
    expect(t("b", "ok", false)).toBe(true);
    expect(t("b", "ran", true)).toBe(true);
    expect(t("c", "ran", false)).toBe(true);
    expect(t("c", "ok", true)).toBe(false);
    expect(t("a", "contains", "HIGH")).toBe(true);
    expect(t("a", "matches", "^Risk: (HIGH|CRITICAL)$")).toBe(false);
    expect(t("a", "matches", "Risk: (HIGH|CRITICAL)")).toBe(true);
    expect(t("a", "equals", "Risk: HIGH")).toBe(true);
    const a = { kind: "test", step: "a", test: "ok", value: true } as const;
    const b = { kind: "test", step: "b", test: "ok", value: true } as const;
    expect(holds({ kind: "all", of: [a, b] }, results)).toBe(false);
    expect(holds({ kind: "any", of: [a, b] }, results)).toBe(true);
    expect(holds({ kind: "not", of: b }, results)).toBe(true);
  });
});
