import { resolve } from "node:path";
import { isTaifengError } from "../errors.ts";
import { defenseCommandCheck } from "../permission/defense/check.ts";
import { identityOf, RULE_IDENTITIES, type ToolFacts } from "../permission/identity.ts";
import { isPermissionMode, PERMISSION_MODES } from "../permission/modes.ts";
import { PermissionPolicy } from "../permission/policy.ts";
import { type CliIO, EXIT, UsageError } from "./io.ts";

/** Flags of `taifeng permissions check`. */
export interface CheckFlags {
  readonly tool: string;
  readonly input?: string;
  readonly cwd?: string;
  readonly mode?: string;
  readonly settings?: readonly string[];
  readonly json?: boolean;
  /** Judge as if the project folder were trusted (its allow rules, mode and hooks apply). */
  readonly trust?: boolean;
}

/** Rule names whose tools only read (the evaluator's default for them differs). */
const READ_ONLY_RULES = new Set(["Read", "WebFetch", "Network"]);

/** What `--tool` names: a rule name (`Bash`, `Read`, `mcp__...`) or a built-in tool name (`bash`). */
export function toolForCheck(name: string): ToolFacts {
  const permission = RULE_IDENTITIES[name];
  if (permission) return { name, readOnly: READ_ONLY_RULES.has(name), permission };
  const identity = identityOf({ name, readOnly: false });
  return { name, readOnly: identity.rule === "Read", permission: identity };
}

/**
 * `taifeng permissions check`: runs the evaluator the engine uses on one call and prints
 * `{ decision, rule, source, reason }` (plus origin and suggestions), with command defense
 * as the command check, as in `taifeng run`. Settings are
 * discovered from `--cwd` and `HOME` as in a real run (an untrusted project's settings only
 * restrict, unless `--trust`); `--settings FILE` adds a file at command-line precedence. Exits 0 whatever the decision; 2 for bad usage or settings.
 */
export async function permissionsCheckCommand(flags: CheckFlags, io: CliIO): Promise<number> {
  let input: unknown = {};
  if (flags.input !== undefined) {
    try {
      input = JSON.parse(flags.input);
    } catch (err) {
      throw new UsageError(`--input must be JSON, e.g. '{"command":"npm test"}': ${(err as Error).message}`);
    }
  }
  if (flags.mode !== undefined && !isPermissionMode(flags.mode)) {
    throw new UsageError(`--mode must be one of ${PERMISSION_MODES.join(", ")}; got "${flags.mode}"`);
  }
  const cwd = resolve(io.cwd, flags.cwd ?? ".");
  let policy: PermissionPolicy;
  try {
    policy = await PermissionPolicy.discover({
      cwd,
      env: io.env,
      extraFiles: flags.settings ?? [],
      // The same command check `taifeng run` uses: command defense before the Bash rules.
      commandCheck: defenseCommandCheck,
      mode: flags.mode !== undefined && isPermissionMode(flags.mode) ? flags.mode : undefined,
      // As `taifeng run` without a prompt: the user's remembered grant, or --trust.
      projectTrust: flags.trust === true ? true : "remembered",
    });
  } catch (err) {
    if (isTaifengError(err, "invalid_config")) throw new UsageError(err.message);
    throw err;
  }
  for (const warning of policy.warnings) io.stderr.write(`taifeng: ${warning}\n`);
  const decision = await policy.evaluate({ tool: toolForCheck(flags.tool), input, cwd });
  const result = {
    decision: decision.decision,
    rule: decision.rule ?? null,
    source: decision.source ?? null,
    reason: decision.reason,
    origin: decision.origin ?? null,
    mode: policy.defaultMode,
    suggestions: decision.suggestions,
  };
  if (flags.json) {
    io.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const rule = result.rule
      ? ` by ${result.rule} (${result.source}${result.origin && result.origin !== result.source ? `: ${result.origin}` : ""})`
      : ` by ${result.source} (${result.mode} mode)`;
    io.stdout.write(`${result.decision}${rule}\n  ${result.reason}\n`);
    if (result.suggestions.length > 0) io.stdout.write(`  always allow: ${result.suggestions.join(", ")}\n`);
  }
  return EXIT.ok;
}
