import { z } from "zod";
import type { TurnHooks } from "../loop/guards.ts";
import { newId } from "../protocol/index.ts";
import { defineTool, type Tool } from "../tool/define.ts";
import type { ToolGate } from "../tool/scheduler.ts";
import type { SkillActivation, SkillOutcome } from "./seams.ts";

type Decision = { allow: true; input?: string } | { allow: false; message: string };

let identity: Tool | undefined;

/** A stand-in for `call_skill`, so the permission layer sees a plan step as the same `Skill` call. */
function skillCallTool(): Tool {
  identity ??= defineTool({
    name: "call_skill",
    description: "Runs a skill.",
    schema: z.object({ name: z.string(), input: z.string().optional() }),
    execute: () => "",
  }) as Tool;
  return identity;
}

/**
 * The engine's default answer for a skill activation: activations the model made through
 * `call_skill` already passed the turn's gate as a tool call; plan steps go through the same
 * gate as if `call_skill` had been called, so `Skill(name)` rules, modes, approvals and
 * pre_tool hooks apply to them too.
 */
export async function authorizeThroughGate(
  gate: ToolGate | undefined,
  activation: SkillActivation,
): Promise<Decision | undefined> {
  if (!gate || activation.via !== "plan") return undefined;
  const decision = await gate({
    tool: skillCallTool(),
    callId: activation.callId ?? newId("plan"),
    input: { name: activation.name, input: activation.input },
    signal: activation.signal,
  });
  if (!decision.allow) return { allow: false, message: decision.message };
  const edited = decision.input as { input?: unknown } | undefined;
  return typeof edited?.input === "string" ? { allow: true, input: edited.input } : { allow: true };
}

/** Runs the engine's skill_start hooks: a deny blocks the skill; an edited `input` replaces it. */
export async function skillStartHooks(
  hooks: TurnHooks | undefined,
  activation: SkillActivation,
): Promise<Decision | undefined> {
  if (!hooks) return undefined;
  const outcome = await hooks.run(
    "skill_start",
    { name: activation.name, callId: activation.callId, depth: activation.depth },
    [activation.name],
  );
  if (outcome.decision === "deny") return { allow: false, message: outcome.reason ?? "denied by a hook" };
  const edited = outcome.updatedInput as { input?: unknown } | undefined;
  return typeof edited?.input === "string" ? { allow: true, input: edited.input } : { allow: true };
}

/** Runs the engine's skill_end hooks (observational). */
export async function skillEndHooks(hooks: TurnHooks | undefined, outcome: SkillOutcome): Promise<void> {
  await hooks?.run("skill_end", { name: outcome.name, callId: outcome.callId, ok: outcome.ok }, [
    outcome.name,
  ]);
}
