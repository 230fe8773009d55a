/**
 * Composite skill plans (front matter `taifeng.plan`): a deterministic program of skill and
 * script steps combined with `serial`, `parallel` and `when`. This file parses and checks a
 * plan; `plan-run.ts` executes it. The format is documented in docs/guides/skills.md.
 */

/** A condition on the plan input or on earlier steps' results. */
export type Condition =
  | {
      readonly kind: "test";
      /** A step id, or `input` for the plan's input. */
      readonly step: string;
      readonly test: "ok" | "ran" | "contains" | "matches" | "equals";
      readonly value: string | boolean;
    }
  | { readonly kind: "all" | "any"; readonly of: readonly Condition[] }
  | { readonly kind: "not"; readonly of: Condition };

interface StepBase {
  readonly id: string | undefined;
  readonly when: Condition | undefined;
  /** Where the step is declared, e.g. `steps[1].parallel[0]`, for messages. */
  readonly label: string;
}

/** One step of a plan. */
export type PlanStep =
  | (StepBase & {
      readonly kind: "skill";
      readonly skill: string;
      /** Template: `{{input}}` and `{{<step id>}}` are replaced by text. */
      readonly input: string;
      readonly continueOnError: boolean;
    })
  | (StepBase & {
      readonly kind: "script";
      /** Path inside the skill's `scripts/` folder. */
      readonly script: string;
      /** Templates, one per argument. */
      readonly args: readonly string[];
      readonly continueOnError: boolean;
    })
  | (StepBase & { readonly kind: "serial" | "parallel"; readonly steps: readonly PlanStep[] });

/** A parsed plan: steps run in order; `output` (a template) is the result, else the last step's output. */
export interface Plan {
  readonly steps: readonly PlanStep[];
  readonly output: string | undefined;
}

/** A problem in a plan, at a YAML path below `taifeng.plan`. */
export interface PlanIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const ID = /^[a-z][a-z0-9_-]{0,63}$/i;
const TEMPLATE = /\{\{\s*([^{}\s]*)\s*\}\}/g;
const TESTS = ["ok", "ran", "contains", "matches", "equals"] as const;
type Path = readonly (string | number)[];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The step ids a template refers to (`input` included). */
export function templateRefs(template: string): string[] {
  return [...template.matchAll(TEMPLATE)].map((m) => m[1] as string);
}

/** Replaces `{{name}}` references with `lookup(name)`. */
export function renderTemplate(template: string, lookup: (name: string) => string): string {
  return template.replace(TEMPLATE, (_, name: string) => lookup(name));
}

/**
 * Parses and checks a plan value. Every problem is reported (not only the first) with its
 * path. Checks: shapes and types, unique ids (`input` is reserved), and that every
 * reference (`{{id}}` in templates, `step:` in conditions) names a step that has finished
 * before the referring step can start (an earlier serial step, never a sibling in the same
 * `parallel`). Skill names are checked later, against the whole catalog.
 */
export function parsePlan(value: unknown): { plan: Plan | undefined; issues: PlanIssue[] } {
  const issues: PlanIssue[] = [];
  const issue = (path: Path, message: string) => issues.push({ path, message });
  if (!isRecord(value)) {
    issue([], "a plan must be a mapping with `steps` (a list) and optionally `output`");
    return { plan: undefined, issues };
  }
  for (const key of Object.keys(value))
    if (key !== "steps" && key !== "output")
      issue([key], `unknown plan field \`${key}\` (allowed: steps, output)`);
  const ids = new Set<string>();
  const done = new Set<string>(["input"]);
  let steps: PlanStep[] = [];
  if (!Array.isArray(value.steps) || value.steps.length === 0) {
    issue(["steps"], "`steps` must be a non-empty list of steps");
  } else {
    steps = parseList(value.steps, ["steps"], "serial", { issue, ids, done });
  }
  let output: string | undefined;
  if (value.output !== undefined) {
    if (typeof value.output !== "string") issue(["output"], "`output` must be a string template");
    else {
      output = value.output;
      checkRefs(output, ["output"], done, issue);
    }
  }
  return { plan: issues.length === 0 ? { steps, output } : undefined, issues };
}

interface Scope {
  readonly issue: (path: Path, message: string) => void;
  /** Every id declared so far (for uniqueness). */
  readonly ids: Set<string>;
  /** Ids whose steps are finished when the current step starts. */
  readonly done: Set<string>;
}

function parseList(list: unknown[], path: Path, mode: "serial" | "parallel", scope: Scope): PlanStep[] {
  const out: PlanStep[] = [];
  const before = new Set(scope.done);
  const finished: string[] = [];
  list.forEach((raw, i) => {
    // In a parallel group every branch sees only what finished before the group.
    const done = mode === "parallel" ? new Set(before) : scope.done;
    const step = parseStep(raw, [...path, i], { ...scope, done });
    if (!step) return;
    out.push(step);
    const declared = declaredIds(step);
    if (mode === "parallel") finished.push(...declared);
    else for (const id of declared) scope.done.add(id);
  });
  for (const id of finished) scope.done.add(id);
  return out;
}

function declaredIds(step: PlanStep): string[] {
  const own = step.id === undefined ? [] : [step.id];
  if (step.kind === "serial" || step.kind === "parallel") return [...own, ...step.steps.flatMap(declaredIds)];
  return own;
}

const STEP_FIELDS: Record<string, readonly string[]> = {
  skill: ["skill", "input", "id", "when", "continueOnError"],
  script: ["script", "args", "id", "when", "continueOnError"],
  serial: ["serial", "id", "when"],
  parallel: ["parallel", "id", "when"],
};

function parseStep(raw: unknown, path: Path, scope: Scope): PlanStep | undefined {
  const { issue } = scope;
  if (!isRecord(raw)) {
    issue(path, "a step must be a mapping with one of: skill, script, serial, parallel");
    return undefined;
  }
  const kinds = Object.keys(STEP_FIELDS).filter((k) => k in raw);
  if (kinds.length !== 1) {
    issue(
      path,
      kinds.length === 0
        ? "a step needs exactly one of: skill, script, serial, parallel"
        : `a step has exactly one of skill, script, serial, parallel (found ${kinds.join(", ")})`,
    );
    return undefined;
  }
  const kind = kinds[0] as keyof typeof STEP_FIELDS;
  const allowed = STEP_FIELDS[kind] as readonly string[];
  for (const key of Object.keys(raw))
    if (!allowed.includes(key))
      issue([...path, key], `unknown field \`${key}\` in a ${kind} step (allowed: ${allowed.join(", ")})`);
  const label = labelOf(path);
  const when = raw.when === undefined ? undefined : parseCondition(raw.when, [...path, "when"], scope);
  const id = parseId(raw.id, [...path, "id"], scope);
  const continueOnError = raw.continueOnError ?? false;
  if (typeof continueOnError !== "boolean")
    issue([...path, "continueOnError"], "`continueOnError` must be true or false");
  switch (kind) {
    case "skill": {
      if (typeof raw.skill !== "string" || raw.skill === "") {
        issue([...path, "skill"], "`skill` must be a skill name");
        return undefined;
      }
      const input = raw.input ?? "{{input}}";
      if (typeof input !== "string") {
        issue([...path, "input"], "`input` must be a string template");
        return undefined;
      }
      checkRefs(input, [...path, "input"], scope.done, issue);
      return { kind, id, when, label, skill: raw.skill, input, continueOnError: continueOnError === true };
    }
    case "script": {
      if (typeof raw.script !== "string" || raw.script === "") {
        issue([...path, "script"], "`script` must be a file in the skill's scripts/ folder");
        return undefined;
      }
      const args = raw.args ?? [];
      if (!Array.isArray(args) || !args.every((a) => typeof a === "string" || typeof a === "number")) {
        issue([...path, "args"], "`args` must be a list of strings");
        return undefined;
      }
      const strings = args.map(String);
      strings.forEach((a, i) => {
        checkRefs(a, [...path, "args", i], scope.done, issue);
      });
      return {
        kind,
        id,
        when,
        label,
        script: raw.script,
        args: strings,
        continueOnError: continueOnError === true,
      };
    }
    default: {
      const list = raw[kind];
      if (!Array.isArray(list) || list.length === 0) {
        issue([...path, kind], `\`${kind}\` must be a non-empty list of steps`);
        return undefined;
      }
      const steps = parseList(list, [...path, kind], kind as "serial" | "parallel", scope);
      return { kind: kind as "serial" | "parallel", id, when, label, steps };
    }
  }
}

function parseId(raw: unknown, path: Path, scope: Scope): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== "string" || !ID.test(raw)) {
    scope.issue(path, "`id` must start with a letter and use letters, digits, `_` or `-` (at most 64)");
    return undefined;
  }
  if (raw === "input") {
    scope.issue(path, "`input` is reserved for the plan's input");
    return undefined;
  }
  if (scope.ids.has(raw)) {
    scope.issue(path, `duplicate step id \`${raw}\``);
    return undefined;
  }
  scope.ids.add(raw);
  return raw;
}

function parseCondition(raw: unknown, path: Path, scope: Scope): Condition | undefined {
  const { issue } = scope;
  if (!isRecord(raw)) {
    issue(
      path,
      "`when` must be a mapping: {step, ok|ran|contains|matches|equals} or {all|any: [...]} or {not: ...}",
    );
    return undefined;
  }
  if ("all" in raw || "any" in raw) {
    const kind = "all" in raw ? "all" : "any";
    const list = raw[kind];
    if (Object.keys(raw).length !== 1 || !Array.isArray(list) || list.length === 0) {
      issue(path, `\`${kind}\` must be the only key, with a non-empty list of conditions`);
      return undefined;
    }
    const of = list.map((c, i) => parseCondition(c, [...path, kind, i], scope));
    return of.every((c) => c !== undefined) ? { kind, of: of as Condition[] } : undefined;
  }
  if ("not" in raw) {
    if (Object.keys(raw).length !== 1) {
      issue(path, "`not` must be the only key");
      return undefined;
    }
    const of = parseCondition(raw.not, [...path, "not"], scope);
    return of ? { kind: "not", of } : undefined;
  }
  const step = raw.step;
  if (typeof step !== "string") {
    issue(path, "a condition needs `step` (a step id or `input`)");
    return undefined;
  }
  const tests = TESTS.filter((t) => t in raw);
  const extra = Object.keys(raw).filter((k) => k !== "step" && !(TESTS as readonly string[]).includes(k));
  if (tests.length !== 1 || extra.length > 0) {
    issue(path, `a condition has \`step\` and exactly one of ${TESTS.join(", ")}`);
    return undefined;
  }
  const test = tests[0] as (typeof TESTS)[number];
  const value = raw[test];
  const boolean = test === "ok" || test === "ran";
  if (boolean ? typeof value !== "boolean" : typeof value !== "string") {
    issue([...path, test], `\`${test}\` must be ${boolean ? "true or false" : "a string"}`);
    return undefined;
  }
  if (test === "matches") {
    try {
      new RegExp(value as string);
    } catch (err) {
      issue([...path, test], `\`matches\` is not a valid regular expression: ${(err as Error).message}`);
      return undefined;
    }
  }
  if (!scope.done.has(step)) {
    issue([...path, "step"], unavailable(step));
    return undefined;
  }
  return { kind: "test", step, test, value: value as string | boolean };
}

function checkRefs(template: string, path: Path, done: Set<string>, issue: Scope["issue"]): void {
  for (const ref of templateRefs(template)) if (!done.has(ref)) issue(path, unavailable(ref));
}

function unavailable(ref: string): string {
  return `\`${ref}\` is not a step that has finished at this point (use \`input\` or the id of an earlier step outside this parallel group)`;
}

function labelOf(path: Path): string {
  let out = "";
  for (const part of path) out += typeof part === "number" ? `[${part}]` : out === "" ? part : `.${part}`;
  return out;
}

/** Every skill step of a plan, in declaration order. */
export function planSkillSteps(plan: Plan): { skill: string; label: string }[] {
  const out: { skill: string; label: string }[] = [];
  const walk = (steps: readonly PlanStep[]) => {
    for (const step of steps) {
      if (step.kind === "skill") out.push({ skill: step.skill, label: step.label });
      else if (step.kind === "serial" || step.kind === "parallel") walk(step.steps);
    }
  };
  walk(plan.steps);
  return out;
}

/** Every skill a plan calls, once each. */
export function planSkills(plan: Plan): string[] {
  return [...new Set(planSkillSteps(plan).map((s) => s.skill))];
}

/** Every script a plan runs. */
export function planScripts(plan: Plan): { script: string; label: string }[] {
  const out: { script: string; label: string }[] = [];
  const walk = (steps: readonly PlanStep[]) => {
    for (const step of steps) {
      if (step.kind === "script") out.push({ script: step.script, label: step.label });
      else if (step.kind === "serial" || step.kind === "parallel") walk(step.steps);
    }
  };
  walk(plan.steps);
  return out;
}
