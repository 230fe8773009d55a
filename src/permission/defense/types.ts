import { z } from "zod";

/** What kind of harm a finding is about. */
export const DefenseCategory = z.enum([
  "privilege_escalation",
  "reverse_shell",
  "destructive_delete",
  "disk_write",
  "fork_bomb",
  "persistence",
  "encoding_bypass",
  "remote_code_execution",
  "dangerous_redirect",
  "credential_exfiltration",
  "shutdown_reboot",
  "disk_partition",
  "git_destructive",
  "network_change",
  "service_stop",
  "obfuscation",
]);
export type DefenseCategory = z.infer<typeof DefenseCategory>;

/** `critical` and `high` deny; `medium` asks a person. */
export const DefenseSeverity = z.enum(["critical", "high", "medium"]);
export type DefenseSeverity = z.infer<typeof DefenseSeverity>;

/** One reason a command is dangerous. `part` is the piece of the command that triggered it. */
export const DefenseFinding = z.object({
  category: DefenseCategory,
  severity: DefenseSeverity,
  reason: z.string(),
  part: z.string(),
});
export type DefenseFinding = z.infer<typeof DefenseFinding>;

/** Something worth telling the user that does not block (package installs). */
export const DefenseWarning = z.object({
  category: z.enum(["package_install"]),
  reason: z.string(),
  part: z.string(),
});
export type DefenseWarning = z.infer<typeof DefenseWarning>;

/** The verdict: `deny` on any critical/high finding, `ask` on a medium one, else `allow`. */
export const DefenseVerdict = z.enum(["deny", "ask", "allow"]);
export type DefenseVerdict = z.infer<typeof DefenseVerdict>;

/** The result of `assessCommand`. */
export const CommandAssessment = z.object({
  verdict: DefenseVerdict,
  findings: z.array(DefenseFinding),
  warnings: z.array(DefenseWarning),
  /** The command after normalization (what was analyzed). */
  normalized: z.string(),
});
export type CommandAssessment = z.infer<typeof CommandAssessment>;
