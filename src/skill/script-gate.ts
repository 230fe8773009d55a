import { extname, join } from "node:path";
import { z } from "zod";
import { newId } from "../protocol/index.ts";
import { defineTool, type Tool, type ToolPermission } from "../tool/define.ts";
import type { ToolGate } from "../tool/scheduler.ts";
import type { SkillScope } from "./scope.ts";
import type { Skill } from "./types.ts";

/**
 * Every way a skill script runs — the model's `run_skill_script` and a composite plan's
 * `script:` steps — passes the same gate as a shell command: Bash rules, the command check
 * (command defense), the mode, `canUseTool`, approvals and pre_tool hooks, judged on the
 * command line the script run stands for. Scripts of a project's own skill folders run only
 * when the project is trusted.
 */

/** The name of the tool (and of a plan step's stand-in) that runs skill scripts. */
export const SCRIPT_TOOL_NAME = "run_skill_script";

/** The input a script run is judged on (what `run_skill_script` receives). */
export interface ScriptCall {
  readonly name: string;
  readonly script: string;
  readonly args: readonly string[];
}

function quote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** The interpreter a script's extension implies (as `commandFor` picks it), or none. */
function interpreter(path: string): string | undefined {
  switch (extname(path).toLowerCase()) {
    case ".js":
    case ".mjs":
    case ".cjs":
    case ".ts":
    case ".mts":
      return "node";
    case ".sh":
      return "sh";
    case ".bash":
      return "bash";
    case ".py":
      return "python3";
    default:
      return undefined;
  }
}

/**
 * The shell command line a script run stands for, e.g.
 * `sh /repo/.taifeng/skills/deploy/scripts/run.sh staging`: what Bash rules match and the
 * command check analyses.
 */
export function scriptCommandLine(
  skill: Pick<Skill, "dir">,
  script: string,
  args: readonly string[],
): string {
  const relative = script.startsWith("scripts/") ? script : `scripts/${script}`;
  const path = join(skill.dir, relative);
  const run = interpreter(path);
  return [...(run ? [run] : []), path, ...args].map(quote).join(" ");
}

/**
 * The permission identity of script runs: rule `Bash`, subject the command line, so one set
 * of rules and one command check govern shell commands and skill scripts alike.
 */
export function scriptPermission(lookup: (name: string) => Skill | undefined): ToolPermission {
  return {
    rule: "Bash",
    subjects: (input) => {
      const call = input as Partial<ScriptCall> | undefined;
      if (typeof call?.name !== "string" || typeof call.script !== "string") return [];
      const skill = lookup(call.name);
      const args = Array.isArray(call.args)
        ? call.args.filter((a): a is string => typeof a === "string")
        : [];
      // An unknown skill still presents a command, so deny and ask rules see something.
      return [scriptCommandLine(skill ?? { dir: `<unknown skill ${call.name}>` }, call.script, args)];
    },
  };
}

const standIns = new WeakMap<SkillScope["snapshot"], Tool>();

/** A stand-in for `run_skill_script`, so a plan step is judged as the same call would be. */
function standIn(scope: SkillScope): Tool {
  let tool = standIns.get(scope.snapshot);
  if (!tool) {
    tool = defineTool({
      name: SCRIPT_TOOL_NAME,
      description: "Runs a skill script.",
      schema: z.object({ name: z.string(), script: z.string(), args: z.array(z.string()) }),
      permission: scriptPermission((name) => scope.snapshot.skills.get(name)),
      execute: () => "",
    }) as Tool;
    standIns.set(scope.snapshot, tool);
  }
  return tool;
}

/**
 * Asks the turn's gate whether a plan's script step may run, as if the model had called
 * `run_skill_script` with the same input. Without a gate (no permission policy, hooks or
 * host gate), everything runs: the host vouches for its skills, as for its tools.
 */
export async function authorizeScriptStep(
  gate: ToolGate | undefined,
  scope: SkillScope,
  call: ScriptCall,
  callId: string | undefined,
  signal: AbortSignal,
): Promise<{ allow: true; args: readonly string[] } | { allow: false; message: string }> {
  if (!gate) return { allow: true, args: call.args };
  const decision = await gate({
    tool: standIn(scope),
    callId: callId ?? newId("plan"),
    input: { name: call.name, script: call.script, args: [...call.args] },
    signal,
  });
  if (!decision.allow) return { allow: false, message: decision.message };
  // A hook or a person may have edited the input: only the arguments can change.
  const edited = decision.input as Partial<ScriptCall> | undefined;
  const args =
    Array.isArray(edited?.args) && edited.args.every((a) => typeof a === "string") ? edited.args : call.args;
  return { allow: true, args };
}

/**
 * Why a skill's scripts may not run here, or undefined: scripts of the project's own skill
 * folders (`.taifeng/skills`, `.agents/skills`) run only in a trusted project.
 */
export async function trustRefusal(scope: SkillScope, skill: Skill): Promise<string | undefined> {
  if (skill.source !== "project") return undefined;
  if (await scope.core.projectTrusted()) return undefined;
  return `Skill "${skill.name}" comes from this project's folder (${skill.dir}), which is not trusted: its scripts do not run. The user can trust the folder (taifeng run asks at a terminal or takes --trust) after reviewing it.`;
}
