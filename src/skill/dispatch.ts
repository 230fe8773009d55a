import { describeError } from "../errors.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { EventMsg, EventMsgOf, Usage } from "../protocol/index.ts";
import { addUsage, emptyUsage, isTurnEnd } from "../protocol/index.ts";
import { ToolSet } from "../tool/define.ts";
import { authorizeThroughGate, skillEndHooks, skillStartHooks } from "./engine-guards.ts";
import { runPlan } from "./plan-run.ts";
import type { SkillScope } from "./scope.ts";
import { grantTools } from "./scope.ts";
import type { SkillActivation, SkillOutcome, SkillVia } from "./seams.ts";
import { skillTools } from "./tools.ts";
import { isUsable, type Skill } from "./types.ts";

/** How an activation ended. `code` classifies refusals and failures. */
export type ActivationResult =
  | { readonly ok: true; readonly output: string }
  | {
      readonly ok: false;
      readonly code:
        | "unknown_skill"
        | "not_allowed"
        | "depth_limit"
        | "cycle"
        | "denied"
        | "blocked"
        | "failed"
        | "aborted";
      readonly message: string;
    };

/** A request to run a skill. */
export interface ActivationRequest {
  readonly name: string;
  readonly input: string;
  readonly via: SkillVia;
  /** The root tool call (for attribution in events). */
  readonly callId: string | undefined;
  readonly signal: AbortSignal;
  readonly cwd: string;
}

const refuse = (
  code: Exclude<ActivationResult, { ok: true }>["code"],
  message: string,
): ActivationResult => ({
  ok: false,
  code,
  message,
});

/** The skill a scope may activate, or why not. */
export function findSkill(scope: SkillScope, name: string, via: SkillVia): Skill | ActivationResult {
  const skill = scope.snapshot.skills.get(name);
  if (!skill) {
    const names = scope.snapshot.usable.filter((s) => !s.manifest.disableModelInvocation).map((s) => s.name);
    return refuse(
      "unknown_skill",
      `Unknown skill "${name}". Available skills: ${names.join(", ") || "none"}.`,
    );
  }
  if (!isUsable(skill))
    return refuse(
      "unknown_skill",
      `Skill "${name}" is not available: ${skill.ineligible[0] ?? "it is shadowed"}.`,
    );
  if (via === "model" && skill.manifest.disableModelInvocation)
    return refuse(
      "not_allowed",
      `Skill "${name}" can only be started by the user or a plan, not by the model.`,
    );
  if (scope.allowedSkills && !scope.allowedSkills.has(name)) {
    const where = scope.chain.at(-1);
    return refuse("not_allowed", `Skill "${name}" is not in the allowed-tools of skill "${where}".`);
  }
  return skill;
}

/**
 * Runs a skill: lookup and eligibility, depth limit, cycle check, `authorizeSkill`, the
 * skill_start hook, then `skill_started` -> the child turn (atomic skill) or the plan
 * (composite) -> `skill_completed` -> the skill_end hook. Refusals emit nothing and return a
 * message for the caller. Never throws. Cancellation: when `signal` aborts, the child engine
 * is shut down (nested skills complete first) and `skill_completed` (ok false, `aborted`) is
 * emitted at once, before the caller's own completion event.
 */
export async function activate(scope: SkillScope, req: ActivationRequest): Promise<ActivationResult> {
  const found = findSkill(scope, req.name, req.via);
  if (!("manifest" in found)) return found;
  const skill = found;
  const depth = scope.chain.length;
  if (scope.chain.includes(skill.name))
    return refuse("cycle", `Skill cycle refused: ${[...scope.chain, skill.name].join(" -> ")}.`);
  if (depth >= scope.core.maxDepth)
    return refuse(
      "depth_limit",
      `Skill "${skill.name}" not run: the skill depth limit (${scope.core.maxDepth}) is reached (${scope.chain.join(" -> ")}).`,
    );
  let activation: SkillActivation = {
    name: skill.name,
    input: req.input,
    chain: scope.chain,
    depth,
    via: req.via,
    callId: req.callId,
    signal: req.signal,
  };
  const permission = await decide(scope, "permission", () =>
    scope.core.authorizeSkill
      ? scope.core.authorizeSkill(activation)
      : authorizeThroughGate(scope.gate, activation),
  );
  if (!permission.allow) return refuse("denied", `Skill "${skill.name}" denied: ${permission.message}`);
  if (permission.input !== undefined) activation = { ...activation, input: permission.input };
  const hook = await decide(scope, "hook", () =>
    scope.core.hooks?.onSkillStart
      ? scope.core.hooks.onSkillStart(activation)
      : skillStartHooks(scope.hooks, activation),
  );
  if (!hook.allow)
    return refuse("blocked", `Skill "${skill.name}" blocked by a skill_start hook: ${hook.message}`);
  if (hook.input !== undefined) activation = { ...activation, input: hook.input };
  if (req.signal.aborted) return refuse("aborted", `Skill "${skill.name}" not run: the call was cancelled.`);

  const started = performance.now();
  const start: EventMsg = { type: "skill_started", name: skill.name, depth, chain: [...scope.chain] };
  if (req.callId !== undefined) start.callId = req.callId;
  scope.emit(start);
  const usage = emptyUsage();
  let completed = false;
  const complete = (ok: boolean, error: string | undefined, reportUsage: boolean) => {
    if (completed) return;
    completed = true;
    const msg: EventMsg = {
      type: "skill_completed",
      name: skill.name,
      ok,
      durationMs: Math.round(performance.now() - started),
    };
    if (req.callId !== undefined) msg.callId = req.callId;
    if (error !== undefined) msg.error = error;
    if (reportUsage) msg.usage = { ...usage };
    scope.emit(msg);
  };
  const controller = new AbortController();
  const onAbort = () => {
    controller.abort(); // children first: nested skills complete before this one
    complete(false, "aborted", !skill.manifest.plan);
  };
  req.signal.addEventListener("abort", onAbort, { once: true });
  let result: ActivationResult;
  try {
    result = skill.manifest.plan
      ? await runPlan(skill.manifest.plan, {
          // A plan may call any skill (its author chose them), but its steps get no more
          // tools than the composite's allowed-tools grant.
          scope: {
            ...scope,
            chain: [...scope.chain, skill.name],
            allowedSkills: undefined,
            baseTools: new ToolSet(
              grantTools(scope.baseTools, skill.manifest.allowedTools, scope.core.aliases).tools,
            ),
          },
          skill,
          input: activation.input,
          callId: req.callId,
          signal: controller.signal,
          cwd: req.cwd,
        })
      : await runChild(scope, skill, activation.input, req, controller.signal, usage);
  } catch (err) {
    result = refuse("failed", `Skill "${skill.name}" failed: ${describeError(err)}`);
  } finally {
    req.signal.removeEventListener("abort", onAbort);
  }
  if (req.signal.aborted && result.ok) result = refuse("aborted", `Skill "${skill.name}" was cancelled.`);
  complete(result.ok, result.ok ? undefined : result.message, !skill.manifest.plan);
  await hookEnd(scope, activation, result, started);
  return result;
}

async function decide(
  scope: SkillScope,
  kind: "permission" | "hook",
  ask: () =>
    | Promise<{ allow: true; input?: string } | { allow: false; message: string } | undefined>
    | { allow: true; input?: string }
    | { allow: false; message: string }
    | undefined,
): Promise<{ allow: true; input?: string } | { allow: false; message: string }> {
  try {
    return (await ask()) ?? { allow: true };
  } catch (err) {
    const message = `${kind === "hook" ? "the skill_start hook" : "the skill permission check"} failed: ${describeError(err)}`;
    scope.emit({
      type: "error",
      error: { code: `skill_${kind}_failed`, message, source: kind === "hook" ? "hook" : "permission" },
    });
    return { allow: false, message };
  }
}

async function hookEnd(
  scope: SkillScope,
  activation: SkillActivation,
  result: ActivationResult,
  started: number,
) {
  const onEnd =
    scope.core.hooks?.onSkillEnd ??
    (scope.hooks ? (o: SkillOutcome) => skillEndHooks(scope.hooks, o) : undefined);
  if (!onEnd) return;
  try {
    await onEnd({
      ...activation,
      ok: result.ok,
      output: result.ok ? result.output : result.message,
      durationMs: Math.round(performance.now() - started),
    });
  } catch (err) {
    scope.emit({
      type: "error",
      error: {
        code: "skill_hook_failed",
        message: `the skill_end hook failed: ${describeError(err)}`,
        source: "hook",
      },
    });
  }
}

/** Child events forwarded to the root call as `tool_call_progress` (deltas are not: they would flood the parent). */
const FORWARDED = new Set<EventMsg["type"]>([
  "assistant_message",
  "model_call_started",
  "model_call_completed",
  "tool_call_started",
  "tool_call_completed",
  "warning",
]);

/**
 * Runs an atomic skill as a child turn on its own engine and thread: the skill's body as the
 * system prompt, the inherited tools narrowed by `allowed-tools`, the skill's model (or the
 * caller's), the caller's gate (through `gateForSkill`). Resolves with the child's final text.
 */
async function runChild(
  scope: SkillScope,
  skill: Skill,
  input: string,
  req: ActivationRequest,
  signal: AbortSignal,
  usage: Usage,
): Promise<ActivationResult> {
  let model = scope.model;
  if (skill.manifest.model !== undefined) {
    if (!scope.resolveModel)
      return refuse(
        "failed",
        `Skill "${skill.name}" names model "${skill.manifest.model}", but this engine has no model resolver.`,
      );
    try {
      model = await scope.resolveModel(skill.manifest.model);
    } catch (err) {
      return refuse(
        "failed",
        `Skill "${skill.name}": model "${skill.manifest.model}" is unavailable: ${describeError(err)}`,
      );
    }
  }
  const grant = grantTools(scope.baseTools, skill.manifest.allowedTools, scope.core.aliases);
  // Narrowing is transitive: skills this one calls inherit its tools, never more.
  const childScope: SkillScope = {
    ...scope,
    chain: [...scope.chain, skill.name],
    allowedSkills: grant.skills,
    model,
    baseTools: new ToolSet(grant.tools),
  };
  const tools = new ToolSet(grant.skillTools ? [...grant.tools, ...skillTools(childScope)] : grant.tools);
  const catalog = grant.skillTools ? scope.core.catalog(scope.snapshot).text : "";
  const depth = childScope.chain.length;
  const progress = scope.root?.progress;
  const gate = scope.core.gateForSkill(skill, scope.gate);
  const engine = await AgentEngine.open({
    model,
    system: skillSystem(skill, "child", catalog, input),
    tools,
    cwd: req.cwd,
    maxSteps: scope.core.childMaxSteps,
    title: `skill ${skill.name}`,
    ...(scope.core.store ? { store: scope.core.store } : {}),
    ...(gate ? { gate } : {}),
    ...(scope.core.redactor !== undefined ? { redactor: scope.core.redactor } : {}),
    listeners: progress
      ? [
          (ev) =>
            FORWARDED.has(ev.msg.type) &&
            progress({ skill: skill.name, depth, thread: ev.threadId, event: ev.msg }),
        ]
      : [],
  });
  // Shutting the child down (rather than interrupting it) also covers a turn that is queued
  // but not started yet: it is rejected instead of running to completion.
  const onAbort = () => void engine.close();
  try {
    const id = engine.submit(input.trim() === "" ? `Run the skill "${skill.name}" as instructed.` : input);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    let end: EventMsgOf<"turn_completed" | "turn_failed" | "turn_aborted"> | undefined;
    for await (const ev of engine.subscribe(id)) if (isTurnEnd(ev.msg)) end = ev.msg;
    if (end) addUsage(usage, end.usage);
    if (end?.type === "turn_completed")
      return { ok: true, output: end.text === "" ? "(the skill returned no text)" : end.text };
    if (end?.type === "turn_aborted" || signal.aborted)
      return refuse("aborted", `Skill "${skill.name}" was cancelled.`);
    if (end?.type === "turn_failed")
      return refuse("failed", `Skill "${skill.name}" failed (${end.error.code}): ${end.error.message}`);
    return refuse("failed", `Skill "${skill.name}" ended without a result.`);
  } finally {
    signal.removeEventListener("abort", onAbort);
    await engine.close();
  }
}

/**
 * The system prompt of a skill's own turn: its instructions, where it lives and what it
 * bundles, and (when the skill tools are available) the catalog. As in Claude Code, `$ARGUMENTS`
 * in the body is replaced by the skill's input when one is given.
 */
export function skillSystem(skill: Skill, role: "child" | "entry", catalog: string, input?: string): string {
  const intro =
    role === "child"
      ? `You are running the skill "${skill.name}" as a sub-task for another agent. Follow the skill's instructions below. Your final message is returned to the caller as the skill's result, so make it complete and self-contained.`
      : `You are the agent defined by the skill "${skill.name}". Follow its instructions below.`;
  const files = skill.files.length === 0 ? "none" : skill.files.map((f) => f.path).join(", ");
  const parts = [
    intro,
    `Skill folder: ${skill.dir} (bundled files: ${files}; read them with read_skill and a path, or your file tools).`,
    `<skill_instructions name="${skill.name}">\n${(input === undefined ? skill.body : skill.body.replaceAll("$ARGUMENTS", input)).trim()}\n</skill_instructions>`,
  ];
  if (catalog !== "") parts.push(catalog.trimEnd());
  return `${parts.join("\n\n")}\n`;
}
