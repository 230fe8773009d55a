import { analyze } from "./commands.ts";
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
import {
  type Add,
  dangerousWrites,
  destructive,
  diskPartition,
  diskWrite,
  persistenceCommands,
  power,
  privilege,
  services,
} from "./rules-system.ts";
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
  gitDestructive,
  networkChange,
  reverseShell,
  substitutions,
  directExfiltration,
  historyTampering,
  obfuscation,
] as const;

/** Longer commands are not analyzed (they get an `ask`): analysis cost grows with length. */
const MAX_ANALYZED = 64 * 1024;

const SEVERITY_RANK = { critical: 3, high: 2, medium: 1 } as const;

/**
 * Command defense: classifies a shell command line before any permission rule sees it.
 * The command is normalized (ANSI escapes, NUL and control bytes, look-alike spaces,
 * line continuations, `$IFS`), split into every command it would run (chains, pipelines,
 * subshells, `$(...)`, backticks, `<(...)`, `sh -c`, `eval`, `find -exec`, `xargs`, `ssh
 * host cmd`, heredocs fed to a shell, shell strings in `python -c` code) with wrappers
 * such as `sudo`, `env`, `timeout` and `nohup` peeled off, and every piece is checked
 * against the categories in `DefenseCategory`.
 *
 * Verdict: `deny` when any finding is critical or high, `ask` when the worst is medium,
 * `allow` otherwise. Package installs never block; they come back as `warnings`.
 * Pure and synchronous: the same input always gives the same assessment.
 */
export function assessCommand(command: string): CommandAssessment {
  const normalized = normalizeCommand(command);
  if (normalized.length > MAX_ANALYZED) {
    const finding: DefenseFinding = {
      category: "obfuscation",
      severity: "medium",
      reason: `the command is ${normalized.length} characters long, more than the ${MAX_ANALYZED} that are analyzed`,
      part: `${normalized.slice(0, 80)}…`,
    };
    return { verdict: "ask", findings: [finding], warnings: [], normalized };
  }
  const findings: DefenseFinding[] = [];
  const warnings: DefenseWarning[] = [];
  const seen = new Set<string>();
  const addFor =
    (defaultPart: string): Add =>
    (category, severity, reason, part = defaultPart) => {
      const key = `${category}|${reason}|${part}`;
      if (seen.has(key)) return;
      seen.add(key);
      findings.push({ category, severity, reason, part: part.trim() });
    };
  const analysis = analyze(normalized);
  for (const inv of analysis.invocations) {
    const add = addFor(inv.text);
    for (const rule of PER_INVOCATION) rule(inv, add);
    const warn = (w: DefenseWarning) => {
      if (!warnings.some((x) => x.reason === w.reason && x.part === w.part)) warnings.push(w);
    };
    packageInstall(inv, warn);
    flagInstall(inv, warn);
  }
  const whole = addFor(normalized);
  pipelines(analysis, whole);
  downloadThenRun(analysis, whole);
  inlineCode(analysis, whole);
  forkBomb(analysis.scripts, whole);
  findings.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]);
  return { verdict: verdictOf(findings), findings, warnings, normalized };
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
