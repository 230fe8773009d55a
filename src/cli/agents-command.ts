import { homedir } from "node:os";
import { isAbsolute, join, relative } from "node:path";
import type { Command } from "commander";
import { type AgentSource, scanAgentDefinitions } from "../agents/definitions.ts";
import { skillRoots } from "../skill/load.ts";
import { SkillRegistry } from "../skill/registry.ts";
import { type CliIO, EXIT } from "./io.ts";

/** One agent `agents ls` found. */
interface AgentRow {
  readonly name: string;
  readonly description: string;
  /** `user` / `project` (a `.taifeng/agents/*.md` file) or `skill` (an entry skill). */
  readonly source: AgentSource | "skill";
  readonly file: string;
  readonly model: string | null;
  readonly tools: readonly string[] | null;
  readonly permissionMode: string | null;
  readonly shadows: string | null;
}

/**
 * The folders `taifeng run` reads agent definitions from: the user's `~/.taifeng/agents`, then
 * the project's `.taifeng/agents` (the project wins a name clash).
 */
export function cliAgentDirs(io: CliIO): { path: string; source: AgentSource }[] {
  return [
    { path: join(io.env.HOME ?? homedir(), ".taifeng", "agents"), source: "user" },
    { path: join(io.cwd, ".taifeng", "agents"), source: "project" },
  ];
}

/** Registers `taifeng agents ls`. Actions store their exit code in `result.code`. */
export function registerAgentsCommand(program: Command, io: CliIO, result: { code: number }): void {
  const agents = program.command("agents").description("agent definitions child agents are spawned from");
  agents
    .command("ls")
    .description(
      "list the agent definitions found (~/.taifeng/agents, .taifeng/agents, entry skills) and the files that cannot be used",
    )
    .option("--json", "print one JSON document")
    .action(async (flags: { json?: boolean }) => {
      result.code = await agentsLs(flags, io);
    });
}

/**
 * `taifeng agents ls`: every definition found, with where it came from, and every broken
 * definition file with the field at fault. Exit 0, or 1 when a file is broken.
 */
export async function agentsLs(flags: { json?: boolean }, io: CliIO): Promise<number> {
  const dirs = cliAgentDirs(io);
  const scan = await scanAgentDefinitions(dirs);
  const rows: AgentRow[] = scan.agents.map((a) => ({
    name: a.definition.name,
    description: a.definition.description,
    source: a.source,
    file: a.file,
    model: typeof a.definition.model === "string" ? a.definition.model : null,
    tools: a.definition.tools ?? null,
    permissionMode: a.definition.permissionMode ?? null,
    shadows: a.shadows ?? null,
  }));
  // Entry skills: any usable skill can run as a whole agent (EnginePool entrySkills).
  const registry = await SkillRegistry.open({
    roots: skillRoots({ cwd: io.cwd, ...(io.env.HOME ? { home: io.env.HOME } : {}) }),
    mode: "lenient",
    host: { env: io.env, platform: process.platform },
  });
  try {
    for (const report of registry.current.reports) {
      const skill = report.skill;
      if (!skill || skill.shadowedBy !== undefined || skill.ineligible.length > 0) continue;
      rows.push({
        name: skill.manifest.name,
        description: skill.manifest.description,
        source: "skill",
        file: report.file,
        model: skill.manifest.model ?? null,
        tools: skill.manifest.allowedTools ?? null,
        permissionMode: null,
        shadows: null,
      });
    }
  } finally {
    registry.close();
  }
  const errors = scan.errors.map((e) => ({ file: e.file, field: e.field ?? null, message: e.message }));
  const code = errors.length > 0 ? EXIT.failed : EXIT.ok;
  if (flags.json) {
    io.stdout.write(`${JSON.stringify({ dirs, agents: rows, errors }, null, 2)}\n`);
    return code;
  }
  for (const e of errors)
    io.stderr.write(`taifeng: ${display(e.file, io.cwd)}${e.field ? ` (${e.field})` : ""}: ${e.message}\n`);
  if (rows.length === 0) {
    io.stdout.write(`no agent definitions found (searched: ${dirs.map((d) => d.path).join(", ")})\n`);
    return code;
  }
  const width = Math.max(4, ...rows.map((r) => r.name.length));
  io.stdout.write(`${"NAME".padEnd(width)}  SOURCE   DESCRIPTION\n`);
  for (const r of rows) {
    io.stdout.write(`${r.name.padEnd(width)}  ${r.source.padEnd(7)}  ${oneLine(r.description, 70)}\n`);
    const extra = [
      display(r.file, io.cwd),
      r.model ? `model ${r.model}` : "",
      r.tools ? `tools ${r.tools.join(", ")}` : "",
      r.permissionMode ? `mode ${r.permissionMode}` : "",
      r.shadows ? `replaces ${display(r.shadows, io.cwd)}` : "",
    ].filter((s) => s !== "");
    io.stdout.write(`${" ".repeat(width)}  ${extra.join(" · ")}\n`);
  }
  return code;
}

function display(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
