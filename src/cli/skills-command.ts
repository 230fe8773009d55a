import { stat } from "node:fs/promises";
import { isAbsolute, relative, resolve } from "node:path";
import type { Command } from "commander";
import { type SkillLoad, type SkillReport, skillRoots } from "../skill/load.ts";
import { SkillRegistry } from "../skill/registry.ts";
import type { SkillMode, SkillProblem } from "../skill/types.ts";
import { type CliIO, collect, EXIT, UsageError } from "./io.ts";

export { collect };

/** Flags of `taifeng skills ls`. */
export interface SkillsLsFlags {
  readonly json?: boolean;
  readonly strict?: boolean;
  readonly skills?: readonly string[];
}

/** Flags of `taifeng skills validate`. */
export interface SkillsValidateFlags {
  readonly json?: boolean;
  readonly strict?: boolean;
}

/** Registers `taifeng skills ls|validate` on the program. Actions store their exit code in `result.code`. */
export function registerSkillsCommand(program: Command, io: CliIO, result: { code: number }): void {
  const skills = program.command("skills").description("list and validate skills (SKILL.md folders)");
  skills
    .command("ls")
    .description("list the skills found for this directory: project, user and --skills folders")
    .option("--json", "print one JSON document")
    .option("--strict", "check against the Agent Skills spec (default: lenient)")
    .option("--skills <dir>", "also search this folder (repeatable; highest precedence)", collect, [])
    .action(async (flags: SkillsLsFlags) => {
      result.code = await skillsLs(flags, io);
    });
  skills
    .command("validate")
    .description("check a folder of skills (or one skill folder); exit 1 when any skill has an error")
    .argument("<dir>", "a folder of skill folders, or one skill folder")
    .option("--json", "print one JSON document")
    .option("--strict", "follow the published Agent Skills spec exactly (default: lenient)")
    .action(async (dir: string, flags: SkillsValidateFlags) => {
      result.code = await skillsValidate(dir, flags, io);
    });
}

const modeOf = (flags: { strict?: boolean }): SkillMode => (flags.strict ? "strict" : "lenient");

function statusOf(report: SkillReport): { status: string; reasons: string[] } {
  const skill = report.skill;
  if (!skill)
    return {
      status: "skipped",
      reasons: report.problems.filter((p) => p.severity === "error").map((p) => p.message),
    };
  if (skill.shadowedBy !== undefined)
    return { status: "shadowed", reasons: [`shadowed by ${skill.shadowedBy}`] };
  if (skill.ineligible.length > 0) return { status: "ineligible", reasons: [...skill.ineligible] };
  return { status: "ok", reasons: [] };
}

function problemJson(p: SkillProblem) {
  return {
    severity: p.severity,
    code: p.code,
    message: p.message,
    file: p.file,
    line: p.line ?? null,
    column: p.column ?? null,
  };
}

/**
 * `taifeng skills ls`: every skill folder found (host `--skills` folders, the project's
 * `.taifeng/skills` and `.agents/skills`, the user's `~/.taifeng/skills`), with its status
 * (ok, ineligible and why, shadowed, skipped) and problems. Always exits 0.
 */
export async function skillsLs(flags: SkillsLsFlags, io: CliIO): Promise<number> {
  const roots = skillRoots({
    dirs: flags.skills ?? [],
    cwd: io.cwd,
    ...(io.env.HOME ? { home: io.env.HOME } : {}),
  });
  const registry = await SkillRegistry.open({
    roots,
    mode: modeOf(flags),
    host: { env: io.env, platform: process.platform },
  });
  const load = registry.current;
  const rows = load.reports.map((r) => ({
    name: r.name,
    description: r.skill?.manifest.description ?? null,
    source: r.source,
    location: r.file,
    ...statusOf(r),
    files: r.skill?.files.length ?? 0,
    composite: r.skill?.manifest.plan !== undefined,
    problems: r.problems.map(problemJson),
  }));
  if (flags.json) {
    const doc = {
      mode: load.mode,
      roots: roots.map((r) => ({ path: r.path, source: r.source })),
      skills: rows,
      problems: load.problems.map(problemJson),
    };
    io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return EXIT.ok;
  }
  for (const p of load.problems) io.stderr.write(`${formatProblem(p, io.cwd)}\n`);
  if (rows.length === 0) {
    io.stdout.write(`no skills found (searched: ${roots.map((r) => r.path).join(", ")})\n`);
    return EXIT.ok;
  }
  const width = Math.max(4, ...rows.map((r) => r.name.length));
  io.stdout.write(`${"NAME".padEnd(width)}  SOURCE   STATUS\n`);
  for (const r of rows) {
    const warnings = r.problems.filter((p) => p.severity === "warning").length;
    const detail =
      r.reasons.length > 0
        ? `: ${r.reasons.join("; ")}`
        : warnings > 0
          ? ` (${warnings} warning${warnings > 1 ? "s" : ""})`
          : "";
    io.stdout.write(
      `${r.name.padEnd(width)}  ${r.source.padEnd(7)}  ${r.status}${r.composite ? " (composite)" : ""}${detail}\n`,
    );
    io.stdout.write(`${" ".repeat(width)}  ${display(r.location, io.cwd)}\n`);
  }
  return EXIT.ok;
}

/**
 * `taifeng skills validate DIR`: checks every skill under DIR (a folder of skill folders, or
 * one skill folder) in the chosen mode. Exit 0 when no skill has an error, 1 otherwise (also
 * when DIR holds no skill), 2 when DIR is not a directory.
 */
export async function skillsValidate(dir: string, flags: SkillsValidateFlags, io: CliIO): Promise<number> {
  const path = resolve(io.cwd, dir);
  const info = await stat(path).catch(() => undefined);
  if (!info?.isDirectory()) throw new UsageError(`${dir} is not a directory`);
  const mode = modeOf(flags);
  const registry = await SkillRegistry.open({
    roots: [{ path, source: "host", required: true }],
    mode,
    host: { env: io.env, platform: process.platform },
  });
  const load: SkillLoad = registry.current;
  const skills = load.reports.map((r) => {
    const errors = r.problems.filter((p) => p.severity === "error").length;
    return {
      name: r.name,
      path: r.file,
      ok: errors === 0,
      errors,
      warnings: r.problems.length - errors,
      problems: r.problems.map(problemJson),
    };
  });
  const problems = load.problems.map(problemJson);
  if (skills.length === 0)
    problems.push(
      problemJson({
        severity: "error",
        code: "no_skills",
        message: `no SKILL.md found in ${path} or its subfolders`,
        file: path,
      }),
    );
  const ok = skills.every((s) => s.ok) && problems.every((p) => p.severity !== "error");
  if (flags.json) {
    io.stdout.write(`${JSON.stringify({ dir: path, mode, ok, skills, problems }, null, 2)}\n`);
    return ok ? EXIT.ok : EXIT.failed;
  }
  for (const report of load.reports) {
    const errors = report.problems.filter((p) => p.severity === "error").length;
    const mark = errors > 0 ? "✗" : report.problems.length > 0 ? "!" : "✓";
    io.stdout.write(`${mark} ${report.name} (${display(report.file, io.cwd)})\n`);
    for (const p of report.problems) io.stdout.write(`    ${formatProblem(p, io.cwd)}\n`);
  }
  for (const p of load.problems) io.stdout.write(`${formatProblem(p, io.cwd)}\n`);
  if (skills.length === 0) io.stdout.write(`no SKILL.md found in ${display(path, io.cwd)}\n`);
  const failing = skills.filter((s) => !s.ok).length;
  io.stdout.write(
    `${skills.length} skill(s) checked in ${mode} mode: ${skills.length - failing} valid, ${failing} with errors\n`,
  );
  return ok ? EXIT.ok : EXIT.failed;
}

/** `path:line:column: severity code: message`, with the path relative to `cwd` when inside it. */
export function formatProblem(p: SkillProblem, cwd: string): string {
  const at = p.line === undefined ? "" : `:${p.line}${p.column === undefined ? "" : `:${p.column}`}`;
  return `${display(p.file, cwd)}${at}: ${p.severity} ${p.code}: ${p.message}`;
}

function display(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}
