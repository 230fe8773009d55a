import { open, realpath } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { defineTool, type Tool } from "../tool/define.ts";
import { markOutputManaged } from "../tool/output-limit.ts";
import { isInside, resolveInside } from "./bundle.ts";
import { activate } from "./dispatch.ts";
import type { SkillScope } from "./scope.ts";
import { scriptPermission, trustRefusal } from "./script-gate.ts";
import { formatScriptResult } from "./scripts.ts";
import { isUsable, type Skill } from "./types.ts";

/** Names of the tools skills add to a turn. */
export const SKILL_TOOL_NAMES = {
  read: "read_skill",
  call: "call_skill",
  script: "run_skill_script",
} as const;

function lookup(scope: SkillScope, name: string): Skill | string {
  const skill = scope.snapshot.skills.get(name);
  if (skill && isUsable(skill)) return skill;
  if (skill) return `Skill "${name}" is not available: ${skill.ineligible[0] ?? "it is shadowed"}.`;
  const names = scope.snapshot.usable.filter((s) => !s.manifest.disableModelInvocation).map((s) => s.name);
  return `Unknown skill "${name}". Available skills: ${names.join(", ") || "none"}.`;
}

function formatBytes(n: number): string {
  return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KB`;
}

/** The body and bundled-file list read_skill returns. */
export function describeSkill(skill: Skill): string {
  const lines = [`# Skill: ${skill.name}`, `Location: ${skill.file}`, "", skill.body.trim(), ""];
  if (skill.files.length === 0) lines.push("This skill bundles no other files.");
  else {
    lines.push(
      `Bundled files (relative to ${skill.dir}; read one with ${SKILL_TOOL_NAMES.read} {"name": "${skill.name}", "path": "<file>"}${hasScripts(skill) ? `; run scripts/ files with ${SKILL_TOOL_NAMES.script}` : ""}):`,
    );
    for (const f of skill.files) lines.push(`- ${f.path} (${formatBytes(f.bytes)})`);
  }
  if (skill.manifest.plan)
    lines.push("", `This is a composite skill: ${SKILL_TOOL_NAMES.call} runs its plan.`);
  return lines.join("\n");
}

function hasScripts(skill: Skill): boolean {
  return skill.files.some((f) => f.path.startsWith("scripts/"));
}

/** Reads a bundled file as text, up to `max` bytes. */
async function readBundled(
  skill: Skill,
  path: string,
  max: number,
): Promise<{ output: string; isError: boolean }> {
  const resolved = await resolveInside(skill.dir, path);
  if (!resolved.ok) return { output: `Cannot read ${path}: ${resolved.message}.`, isError: true };
  const handle = await open(resolved.path, "r");
  try {
    const info = await handle.stat();
    if (!info.isFile()) return { output: `Cannot read ${path}: not a file.`, isError: true };
    const buffer = Buffer.alloc(Math.min(info.size, max));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const data = buffer.subarray(0, bytesRead);
    if (data.includes(0))
      return {
        output: `${path} is a binary file (${formatBytes(info.size)}); it cannot be shown as text.`,
        isError: true,
      };
    const text = data.toString("utf8");
    return {
      output:
        info.size > max
          ? `${text}\n\n[truncated: showing ${formatBytes(max)} of ${formatBytes(info.size)}]`
          : text,
      isError: false,
    };
  } finally {
    await handle.close();
  }
}

/**
 * The tools a turn uses on skills, bound to one scope (snapshot, chain, inherited context):
 * `read_skill` (body and bundled files, or one bundled file), `call_skill` (run a skill as a
 * child turn or plan and return its result) and, when some skill ships a `scripts/` folder,
 * `run_skill_script` (run one through the script runner; only its output enters the context).
 */
export function skillTools(scope: SkillScope): Tool[] {
  const tools: Tool[] = [
    // Like read_file, read_skill bounds its own output (maxReadBytes): instructions are read
    // whole rather than cut by the engine's cap. The other skill tools are capped.
    markOutputManaged(
      defineTool({
        name: SKILL_TOOL_NAMES.read,
        description:
          "Loads a skill listed in the Skills catalog: without `path`, returns its instructions and the list of files it bundles; with `path`, returns that bundled file (e.g. a reference document). Read a skill before doing a task it covers.",
        schema: z.object({
          name: z.string().describe("The skill's name, as listed in the catalog."),
          path: z
            .string()
            .optional()
            .describe("A bundled file, relative to the skill folder, e.g. reference/guide.md."),
        }),
        readOnly: true,
        execute: async ({ name, path }) => {
          const skill = lookup(scope, name);
          if (typeof skill === "string") return { output: skill, isError: true };
          if (path === undefined || path === "" || path === "SKILL.md") return describeSkill(skill);
          return readBundled(skill, path, scope.core.maxReadBytes);
        },
      }),
    ),
    defineTool({
      name: SKILL_TOOL_NAMES.call,
      description:
        "Runs a skill as a self-contained sub-task in its own context and returns its result. `input` is the task for the skill: include everything it needs, it does not see this conversation.",
      schema: z.object({
        name: z.string().describe("The skill's name, as listed in the catalog."),
        input: z.string().optional().describe("The task or arguments for the skill."),
      }),
      execute: async ({ name, input }, ctx) => {
        const rooted: SkillScope = scope.root
          ? scope
          : { ...scope, root: { callId: ctx.callId, progress: ctx.progress } };
        const result = await activate(rooted, {
          name,
          input: input ?? "",
          via: "model",
          callId: rooted.root?.callId,
          signal: ctx.signal,
          cwd: ctx.cwd,
        });
        return result.ok ? result.output : { output: result.message, isError: true };
      },
    }),
  ];
  if (scope.snapshot.usable.some(hasScripts)) tools.push(scriptTool(scope));
  return tools;
}

function scriptTool(scope: SkillScope): Tool {
  return defineTool({
    name: SKILL_TOOL_NAMES.script,
    // Judged as the shell command it stands for: Bash rules, command defense, hooks.
    permission: scriptPermission((name) => scope.snapshot.skills.get(name)),
    description:
      "Runs a script bundled in a skill's scripts/ folder and returns its exit status and output (the script's source is not shown). The working directory is the current one.",
    schema: z.object({
      name: z.string().describe("The skill's name."),
      script: z.string().describe("The script, relative to the skill's scripts/ folder (e.g. check.sh)."),
      args: z.array(z.string()).default([]).describe("Command-line arguments."),
    }),
    execute: async ({ name, script, args }, ctx) => {
      const skill = lookup(scope, name);
      if (typeof skill === "string") return { output: skill, isError: true };
      const untrusted = await trustRefusal(scope, skill);
      if (untrusted !== undefined) return { output: untrusted, isError: true };
      const found = await scriptPath(skill, script);
      if (!found.ok) return { output: found.message, isError: true };
      const timeoutMs = scope.core.scriptTimeoutMs;
      const result = await scope.core.runScript({
        path: found.path,
        args,
        cwd: ctx.cwd,
        env: { TAIFENG_SKILL_DIR: skill.dir, TAIFENG_SKILL_NAME: skill.name },
        signal: ctx.signal,
        timeoutMs,
        maxOutputBytes: scope.core.maxScriptOutputBytes,
      });
      return {
        output: formatScriptResult(found.relative, result, timeoutMs),
        isError: result.exitCode !== 0,
      };
    },
  });
}

/** Resolves a script name inside the skill's `scripts/` folder (refusing anything outside it). */
export async function scriptPath(
  skill: Skill,
  script: string,
): Promise<{ ok: true; path: string; relative: string } | { ok: false; message: string }> {
  const relative = script.startsWith("scripts/") ? script : `scripts/${script}`;
  const resolved = await resolveInside(skill.dir, relative);
  if (!resolved.ok)
    return { ok: false, message: `Skill "${skill.name}" has no script ${script}: ${resolved.message}.` };
  let scripts: string;
  try {
    scripts = await realpath(join(skill.dir, "scripts"));
  } catch {
    return { ok: false, message: `Skill "${skill.name}" has no scripts/ folder.` };
  }
  if (!isInside(scripts, resolved.path) || resolved.path === scripts)
    return { ok: false, message: `Skill "${skill.name}": ${script} is not a file in its scripts/ folder.` };
  return { ok: true, path: resolved.path, relative };
}
