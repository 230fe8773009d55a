import { homedir } from "node:os";
import type { ShellAnalysis, ShellContext } from "../shell/index.ts";
import { analyzeShellSync, loadedShellParser, loadShellParser } from "../shell/index.ts";
import { type Analysis, defenseView } from "./commands.ts";
import { normalizeCommand } from "./normalize.ts";
import {
  directExfiltration,
  downloadThenRun,
  forkBomb,
  historyTampering,
  inlineCode,
  pipelines,
  reverseShell,
  substitutions,
} from "./rules-flow.ts";
import { flagInstall, gitDestructive, networkChange, obfuscation, packageInstall } from "./rules-ops.ts";
import { type Add, destructive, diskPartition, diskWrite, power, services } from "./rules-system.ts";
import { dangerousWrites, persistenceCommands, privilege, secretExposure } from "./rules-writes.ts";
import type { CommandAssessment, DefenseFinding, DefenseVerdict, DefenseWarning } from "./types.ts";

const PER_INVOCATION = [
  privilege,
  destructive,
  diskWrite,
  diskPartition,
  power,
  services,
  persistenceCommands,
  dangerousWrites,
  secretExposure,
  gitDestructive,
  networkChange,
  reverseShell,
  substitutions,
  directExfiltration,
  historyTampering,
  obfuscation,
] as const;

const SEVERITY_RANK = { critical: 3, high: 2, medium: 1 } as const;

/**
 * Command defense: classifies a shell command line before any permission rule sees it,
 * on the shared shell analysis (src/permission/shell/): every command the line would run,
 * after quote removal, brace and glob expansion, `~`/`$HOME` resolution, `cd` followed,
 * wrappers (`sudo`, `env`, `timeout`, `xargs`, `find -exec`...) peeled off and literal
 * scripts (`sh -c`, `eval`, here-documents and files fed to shells, `ssh host cmd`, shell
 * strings in interpreter code) analysed as commands of their own; each is checked against
 * the categories in `DefenseCategory`. A line that a terminal would show differently from
 * what bash reads (escape sequences, control or invisible characters, look-alike letters)
 * is also judged as it looks.
 *
 * Verdict: `deny` when any finding is critical or high, `ask` when the worst is medium,
 * `allow` otherwise. Package installs never block; they come back as `warnings`.
 */
export async function assessCommand(
  command: string,
  context?: Partial<ShellContext>,
): Promise<CommandAssessment> {
  if (!loadedShellParser()) await loadShellParser();
  return assessCommandSync(command, context);
}

/** `assessCommand` once the parser is loaded (`loadShellParser`), or with an analysis in hand. */
export function assessCommandSync(
  command: string,
  context?: Partial<ShellContext>,
  analysis?: ShellAnalysis,
): CommandAssessment {
  const parser = loadedShellParser();
  if (!parser && !analysis)
    throw new Error("assessCommandSync needs the shell parser: await loadShellParser() first");
  const ctx: ShellContext = { cwd: context?.cwd ?? process.cwd(), home: context?.home ?? homedir() };
  const shell = analysis ?? analyzeShellSync(parser as NonNullable<typeof parser>, command, ctx);
  const findings: DefenseFinding[] = [];
  const warnings: DefenseWarning[] = [];
  const seen = new Set<string>();
  judge(defenseView(shell, ctx.cwd, ctx.home), findings, warnings, seen);
  if (!shell.ok)
    addFinding(
      findings,
      seen,
      "obfuscation",
      "medium",
      shell.error ?? "the command cannot be parsed",
      command.slice(0, 80),
    );
  for (const cmd of shell.commands) {
    if (cmd.opaque && cmd.origin !== "remote" && /command name|parser and bash/.test(cmd.opaque.reason))
      addFinding(findings, seen, "obfuscation", "medium", cmd.opaque.reason, cmd.text);
    const risky = cmd.opaque?.reason.match(/^it sets (.*), which changes what runs$/);
    if (risky && cmd.origin !== "remote")
      addFinding(
        findings,
        seen,
        "obfuscation",
        "medium",
        `sets ${risky[1]}, which changes what the command runs`,
        cmd.text,
      );
  }
  const normalized = normalizeCommand(command);
  if (normalized !== command.trim() && parser) {
    // What a person sees in a terminal: judged too, so an approver is not fooled.
    judge(
      defenseView(analyzeShellSync(parser, normalized, ctx), ctx.cwd, ctx.home),
      findings,
      warnings,
      seen,
    );
  }
  findings.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]);
  return { verdict: verdictOf(findings), findings, warnings, normalized };
}

function addFinding(
  findings: DefenseFinding[],
  seen: Set<string>,
  category: DefenseFinding["category"],
  severity: DefenseFinding["severity"],
  reason: string,
  part: string,
): void {
  const key = `${category}|${reason}|${part}`;
  if (seen.has(key)) return;
  seen.add(key);
  findings.push({ category, severity, reason, part: part.trim() });
}

function judge(
  analysis: Analysis,
  findings: DefenseFinding[],
  warnings: DefenseWarning[],
  seen: Set<string>,
): void {
  const addFor =
    (defaultPart: string): Add =>
    (category, severity, reason, part = defaultPart) =>
      addFinding(findings, seen, category, severity, reason, part);
  for (const inv of analysis.invocations) {
    const add = addFor(inv.text);
    for (const rule of PER_INVOCATION) rule(inv, add);
    const warn = (w: DefenseWarning) => {
      if (!warnings.some((x) => x.reason === w.reason && x.part === w.part)) warnings.push(w);
    };
    packageInstall(inv, warn);
    flagInstall(inv, warn);
  }
  const whole = addFor(analysis.scripts[0] ?? "");
  pipelines(analysis, whole);
  downloadThenRun(analysis, whole);
  inlineCode(analysis, whole);
  forkBomb(analysis.scripts, whole);
}

function verdictOf(findings: readonly DefenseFinding[]): DefenseVerdict {
  if (findings.some((f) => f.severity === "critical" || f.severity === "high")) return "deny";
  if (findings.length > 0) return "ask";
  return "allow";
}

/** A one-paragraph explanation of an assessment, for a denial message or a CLI. */
export function describeAssessment(a: CommandAssessment): string {
  if (a.findings.length === 0) {
    const notes = a.warnings.map((w) => `warning (${w.category}): ${w.reason}`);
    return ["allowed: no dangerous pattern found", ...notes].join("\n");
  }
  const lines = a.findings.map((f) => `${f.severity} ${f.category}: ${f.reason} [${f.part}]`);
  return [`${a.verdict}:`, ...lines, ...a.warnings.map((w) => `warning (${w.category}): ${w.reason}`)].join(
    "\n",
  );
}
