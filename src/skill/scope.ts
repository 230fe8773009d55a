import type { ThreadStore } from "../conversation/store.ts";
import type { ModelClient } from "../llm/types.ts";
import type { TurnHooks } from "../loop/guards.ts";
import type { EventMsg } from "../protocol/index.ts";
import type { Redactor } from "../redact/types.ts";
import type { Tool, ToolSet } from "../tool/define.ts";
import type { ToolGate } from "../tool/scheduler.ts";
import type { Catalog } from "./catalog.ts";
import type { SkillSnapshot } from "./registry.ts";
import type { ScriptRunner } from "./scripts.ts";
import type { AuthorizeSkill, SkillHooks } from "./seams.ts";
import type { Skill } from "./types.ts";

/** Runtime-wide settings and seams every activation uses. */
export interface SkillCore {
  readonly maxDepth: number;
  readonly childMaxSteps: number;
  readonly scriptTimeoutMs: number;
  readonly maxScriptOutputBytes: number;
  readonly maxReadBytes: number;
  readonly runScript: ScriptRunner;
  readonly authorizeSkill: AuthorizeSkill | undefined;
  readonly hooks: SkillHooks | undefined;
  /** Where child turns' threads go; default: a private in-memory store per activation. */
  readonly store: ThreadStore | undefined;
  /** `allowed-tools` names (lower case) -> Taifeng tool names. */
  readonly aliases: ReadonlyMap<string, readonly string[]>;
  /** The gate a skill's child turn uses, from the gate of the turn that called it. */
  readonly gateForSkill: (skill: Skill, parent: ToolGate | undefined) => ToolGate | undefined;
  /** Whether the project folder is trusted: its own skills' scripts run only then. Memoized. */
  projectTrusted(): Promise<boolean>;
  /** The redactor of child turns; undefined = the engine default. */
  readonly redactor: Redactor | false | undefined;
  /** The catalog of a snapshot (memoized: the same snapshot always gives the same text). */
  catalog(snapshot: SkillSnapshot): Catalog;
}

/**
 * What an activation inherits from the turn that leads to it. Built once per root turn
 * (and once per child turn below it); the snapshot is fixed for the root turn's lifetime,
 * so a reload during the turn changes nothing the turn sees.
 */
export interface SkillScope {
  readonly core: SkillCore;
  readonly snapshot: SkillSnapshot;
  /** Skills above (outermost first). */
  readonly chain: readonly string[];
  /** Skills this scope may activate; undefined = all. */
  readonly allowedSkills: ReadonlySet<string> | undefined;
  /** The model child turns inherit when a skill names none. */
  readonly model: ModelClient;
  /** The tools child turns may inherit (the root turn's tools without the skill tools). */
  readonly baseTools: ToolSet;
  readonly gate: ToolGate | undefined;
  /** The engine's hooks for this turn (skill_start / skill_end run through them by default). */
  readonly hooks: TurnHooks | undefined;
  readonly resolveModel: ((spec: string) => Promise<ModelClient>) | undefined;
  /** Emits on the root turn: skill_started / skill_completed / error at every depth. */
  readonly emit: (msg: EventMsg) => void;
  /** The root tool call and its progress channel; undefined at the root turn itself. */
  readonly root: { readonly callId: string; readonly progress: (data: unknown) => void } | undefined;
}

/** Claude Code tool names in `allowed-tools` and the Taifeng tools they stand for. */
export const DEFAULT_TOOL_ALIASES: Readonly<Record<string, readonly string[]>> = {
  read: ["read_file"],
  write: ["write_file"],
  edit: ["edit_file"],
  multiedit: ["edit_file"],
  bash: ["bash"],
  grep: ["grep"],
  glob: ["list_files", "glob"],
  ls: ["list_files"],
  webfetch: ["http_request", "web_fetch"],
  websearch: ["web_search"],
  todowrite: ["todo_write"],
};

const SKILL_ENTRIES = new Set(["skill", "call_skill", "read_skill", "run_skill_script"]);

/** What `allowed-tools` grants: host tools and which skills the skill tools may reach. */
export interface ToolGrant {
  readonly tools: Tool[];
  /** Whether the skill tools (read_skill, call_skill, run_skill_script) are available. */
  readonly skillTools: boolean;
  /** Skills call_skill may reach; undefined = all. */
  readonly skills: ReadonlySet<string> | undefined;
}

/**
 * Applies a skill's `allowed-tools` to the tools it would inherit. Undeclared: everything is
 * inherited. Declared: only the named tools (by exact name, case-insensitively, or through an
 * alias such as `Read` -> `read_file`; a parenthesised specifier such as `Bash(git:*)` is left
 * to the permission gate), and the skill tools only when `Skill`, `Skill(name)` or a skill
 * tool is listed (`Skill(name)` entries limit call_skill to those names).
 */
export function grantTools(
  base: ToolSet,
  allowed: readonly string[] | undefined,
  aliases: ReadonlyMap<string, readonly string[]>,
): ToolGrant {
  if (allowed === undefined) return { tools: [...base], skillTools: true, skills: undefined };
  const byLower = new Map<string, Tool>();
  for (const tool of base) byLower.set(tool.name.toLowerCase(), tool);
  const picked = new Map<string, Tool>();
  let skillTools = false;
  let anySkill = false;
  const skills = new Set<string>();
  for (const entry of allowed) {
    const open = entry.indexOf("(");
    const head = (open < 0 ? entry : entry.slice(0, open)).trim();
    const spec = open < 0 ? undefined : entry.slice(open + 1, entry.lastIndexOf(")")).trim();
    const lower = head.toLowerCase();
    if (SKILL_ENTRIES.has(lower)) {
      skillTools = true;
      if (lower === "skill" && spec) {
        const name = spec.split(/\s+/)[0] as string;
        skills.add(name);
      } else anySkill = true;
      continue;
    }
    const direct = base.get(head) ?? byLower.get(lower);
    if (direct) picked.set(direct.name, direct);
    for (const name of aliases.get(lower) ?? []) {
      const tool = base.get(name);
      if (tool) picked.set(tool.name, tool);
    }
  }
  return { tools: [...picked.values()], skillTools, skills: skillTools && !anySkill ? skills : undefined };
}
