import { describeError } from "../errors.ts";
import { newId } from "../protocol/index.ts";
import { type ActivationResult, activate } from "./dispatch.ts";
import { type Condition, type Plan, type PlanStep, renderTemplate } from "./plan.ts";
import type { SkillScope } from "./scope.ts";
import { authorizeScriptStep, SCRIPT_TOOL_NAME, trustRefusal } from "./script-gate.ts";
import { scriptPath } from "./tools.ts";
import type { Skill } from "./types.ts";

/** What a plan run needs. */
export interface PlanEnv {
  /** The scope of the plan's steps (its chain already ends with the composite skill). */
  readonly scope: SkillScope;
  /** The composite skill (its scripts/ folder serves script steps). */
  readonly skill: Skill;
  readonly input: string;
  readonly callId: string | undefined;
  readonly signal: AbortSignal;
  readonly cwd: string;
}

/** The result of one step. `fatal` failures stop the plan; `continueOnError` ones do not. */
interface StepResult {
  readonly status: "ok" | "error" | "skipped";
  readonly output: string;
  readonly fatal?: string | undefined;
}

const SKIPPED: StepResult = { status: "skipped", output: "" };

/**
 * Executes a plan deterministically, with no model sampling of its own: serial steps in
 * order, parallel branches at once (the first fatal failure aborts the other branches),
 * `when` evaluated on results recorded so far, templates rendered from them. A failing step
 * fails the plan unless it sets `continueOnError` (then its output is the error message and
 * conditions can test `ok: false`). Each finished step is reported as progress on the root
 * call (`{ skill, plan_step, id, status }`). Resolves with the `output` template, or the
 * output of the last top-level step that ran (a group's output joins its branches' outputs
 * in declaration order, so the result does not depend on timing).
 */
export async function runPlan(plan: Plan, env: PlanEnv): Promise<ActivationResult> {
  const results = new Map<string, StepResult>([["input", { status: "ok", output: env.input }]]);
  let last = "";
  const lookup = (name: string) => results.get(name)?.output ?? "";

  const exec = async (step: PlanStep, signal: AbortSignal): Promise<StepResult> => {
    if (signal.aborted) return { status: "error", output: "cancelled", fatal: "cancelled" };
    if (step.when && !holds(step.when, results)) return record(step, SKIPPED);
    switch (step.kind) {
      case "skill": {
        const r = await activate(env.scope, {
          name: step.skill,
          input: renderTemplate(step.input, lookup),
          via: "plan",
          callId: env.callId,
          signal,
          cwd: env.cwd,
        });
        return record(step, r.ok ? { status: "ok", output: r.output } : failed(step, r.message));
      }
      case "script": {
        const r = await runScriptStep(
          env,
          step.script,
          step.args.map((a) => renderTemplate(a, lookup)),
          signal,
        );
        return record(step, r.ok ? { status: "ok", output: r.output } : failed(step, r.output));
      }
      case "serial": {
        const outputs: string[] = [];
        for (const child of step.steps) {
          const r = await exec(child, signal);
          if (r.status !== "skipped") outputs.push(r.output);
          if (r.fatal) return record(step, { status: "error", output: r.output, fatal: r.fatal });
        }
        return record(step, { status: "ok", output: outputs.join("\n\n") });
      }
      case "parallel": {
        const group = new AbortController();
        const onAbort = () => group.abort();
        signal.addEventListener("abort", onAbort, { once: true });
        let first: string | undefined;
        try {
          const settled = await Promise.all(
            step.steps.map((child) =>
              exec(child, group.signal).then((r) => {
                if (r.fatal && first === undefined) {
                  first = r.fatal;
                  group.abort();
                }
                return r;
              }),
            ),
          );
          const outputs = settled.filter((r) => r.status !== "skipped").map((r) => r.output);
          if (first !== undefined) return record(step, { status: "error", output: first, fatal: first });
          return record(step, { status: "ok", output: outputs.join("\n\n") });
        } finally {
          signal.removeEventListener("abort", onAbort);
        }
      }
    }
  };

  const record = (step: PlanStep, result: StepResult): StepResult => {
    if (step.id !== undefined) results.set(step.id, result);
    env.scope.root?.progress({
      skill: env.skill.name,
      plan_step: step.label,
      id: step.id,
      status: result.status,
    });
    return result;
  };

  for (const step of plan.steps) {
    const r = await exec(step, env.signal);
    if (r.status !== "skipped") last = r.output;
    if (r.fatal) {
      if (env.signal.aborted)
        return { ok: false, code: "aborted", message: `Skill "${env.skill.name}" was cancelled.` };
      return { ok: false, code: "failed", message: `Skill "${env.skill.name}" failed: ${r.fatal}` };
    }
  }
  return { ok: true, output: plan.output === undefined ? last : renderTemplate(plan.output, lookup) };
}

function failed(step: PlanStep, message: string): StepResult {
  const continues = (step.kind === "skill" || step.kind === "script") && step.continueOnError;
  const what =
    step.kind === "skill"
      ? `skill ${step.skill}`
      : step.kind === "script"
        ? `script ${step.script}`
        : step.kind;
  const text = `plan step ${step.label}${step.id ? ` (${step.id})` : ""}, ${what}: ${message}`;
  return { status: "error", output: message, fatal: continues ? undefined : text };
}

/** Evaluates a condition against the results recorded so far. */
export function holds(
  condition: Condition,
  results: ReadonlyMap<string, { status: string; output: string }>,
): boolean {
  switch (condition.kind) {
    case "all":
      return condition.of.every((c) => holds(c, results));
    case "any":
      return condition.of.some((c) => holds(c, results));
    case "not":
      return !holds(condition.of, results);
    case "test": {
      const r = results.get(condition.step) ?? SKIPPED;
      switch (condition.test) {
        case "ok":
          return (r.status === "ok") === condition.value;
        case "ran":
          return (r.status !== "skipped") === condition.value;
        case "contains":
          return r.output.includes(condition.value as string);
        case "matches":
          return new RegExp(condition.value as string).test(r.output);
        case "equals":
          return r.output.trim() === (condition.value as string).trim();
      }
    }
  }
}

/**
 * A plan's script step: project trust, then the turn's gate (as a `run_skill_script` call:
 * Bash rules, command defense, mode, approvals, pre_tool hooks), then the script, then
 * post_tool hooks — the same path a script the model runs takes.
 */
async function runScriptStep(
  env: PlanEnv,
  script: string,
  given: string[],
  signal: AbortSignal,
): Promise<{ ok: boolean; output: string }> {
  const untrusted = await trustRefusal(env.scope, env.skill);
  if (untrusted !== undefined) return { ok: false, output: untrusted };
  const found = await scriptPath(env.skill, script);
  if (!found.ok) return { ok: false, output: found.message };
  const callId = newId("plan");
  const call = { name: env.skill.name, script, args: given };
  const decision = await authorizeScriptStep(env.scope.gate, env.scope, call, callId, signal);
  if (!decision.allow) return { ok: false, output: `${found.relative} was not run: ${decision.message}` };
  const args = [...decision.args];
  const result = await execScript(env, found, args, signal);
  await env.scope.hooks?.run(
    "post_tool",
    {
      tool: SCRIPT_TOOL_NAME,
      rule: "Bash",
      callId,
      input: { ...call, args },
      output: result.output,
      isError: !result.ok,
      status: result.ok ? "ok" : "error",
    },
    [SCRIPT_TOOL_NAME, "Bash"],
  );
  return result;
}

async function execScript(
  env: PlanEnv,
  found: { path: string; relative: string },
  args: string[],
  signal: AbortSignal,
): Promise<{ ok: boolean; output: string }> {
  const core = env.scope.core;
  try {
    const r = await core.runScript({
      path: found.path,
      args,
      cwd: env.cwd,
      env: { TAIFENG_SKILL_DIR: env.skill.dir, TAIFENG_SKILL_NAME: env.skill.name },
      signal,
      timeoutMs: core.scriptTimeoutMs,
      maxOutputBytes: core.maxScriptOutputBytes,
    });
    if (r.exitCode === 0) return { ok: true, output: r.stdout.trim() };
    const why =
      r.error ??
      (r.timedOut
        ? "timed out"
        : r.aborted
          ? "aborted"
          : r.exitCode !== null
            ? `exit code ${r.exitCode}`
            : `killed by ${r.signal}`);
    const detail = r.stderr.trim() || r.stdout.trim();
    return {
      ok: false,
      output: `${found.relative} failed (${why})${detail ? `: ${detail.slice(0, 2000)}` : ""}`,
    };
  } catch (err) {
    return { ok: false, output: `${found.relative} could not run: ${describeError(err)}` };
  }
}
