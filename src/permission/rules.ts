import { suggestKey } from "../config-keys.ts";
import { compileDomainPattern, type DomainPattern } from "./domains.ts";
import { compilePathPattern, type PathPattern } from "./paths.ts";
import { compileWildcard, type WildcardPattern } from "./pattern.ts";

/** Which list a rule sits in. */
export type RuleList = "deny" | "ask" | "allow";

/**
 * Where a rule came from, highest precedence first: managed policy, the command line or
 * host, the project's local settings, the project's settings, the user's settings, and
 * rules added during the session by an "always allow" answer.
 */
export type RuleSource = "managed" | "cli" | "local" | "project" | "user" | "session";

/** Rule sources in precedence order (highest first). */
export const RULE_SOURCES: readonly RuleSource[] = ["managed", "cli", "local", "project", "user", "session"];

/** How a rule's specifier is read; decided by the rule's tool name. */
export type Specifier =
  | { readonly kind: "any" }
  | { readonly kind: "command"; readonly pattern: WildcardPattern }
  | { readonly kind: "path"; readonly pattern: PathPattern }
  | { readonly kind: "domain"; readonly pattern: DomainPattern };

/** A parsed permission rule such as `Bash(npm run test:*)` or `Read(./src/**)`. */
export interface PermissionRule {
  /** The rule as written. */
  readonly text: string;
  /** The tool part, with aliases resolved (`Network` → `WebFetch`). */
  readonly tool: string;
  readonly specifier: Specifier;
  readonly list: RuleList;
  readonly source: RuleSource;
  /** Where it was written (a settings file path, `--allow`, `session`...), for messages. */
  readonly origin: string;
}

const TOOL_PART = /^[A-Za-z0-9_*-]+$/;
const ALIASES: Readonly<Record<string, string>> = {
  Network: "WebFetch",
  // Claude Code's tool names, as its users write them: the same paths, the same rules.
  Write: "Edit",
  MultiEdit: "Edit",
  NotebookEdit: "Edit",
  Glob: "Read",
  Grep: "Read",
  LS: "Read",
};

/** Rule names with a meaning of their own (before aliases). */
const RULE_NAMES = ["Bash", "Read", "Edit", "WebFetch", "Skill", ...Object.keys(ALIASES)];

/** Claude Code tool names with no Taifeng counterpart: accepted (settings files are shared), matching nothing. */
const FOREIGN_NAMES = new Set([
  "Task",
  "Agent",
  "WebSearch",
  "TodoWrite",
  "TodoRead",
  "ExitPlanMode",
  "BashOutput",
  "KillShell",
  "KillBash",
  "SlashCommand",
  "NotebookRead",
]);

/** Rule names with a dedicated specifier syntax. */
export const PATH_RULES = new Set(["Read", "Edit"]);

/**
 * Parses one rule. `Tool` matches every use of the tool, `Tool(specifier)` narrows it:
 * Bash and Skill take wildcard patterns, Read and Edit take gitignore-style paths,
 * WebFetch/Network take `domain:HOST`, any other tool's specifier is a wildcard pattern
 * over its subject. MCP names (`mcp__server`, `mcp__server__tool`, `mcp__server__pre*`)
 * take no specifier. Returns an error message (for the caller to place) when malformed.
 */
export function parseRule(
  text: string,
  where: { list: RuleList; source: RuleSource; origin: string },
): PermissionRule | { error: string } {
  const trimmed = text.trim();
  const open = trimmed.indexOf("(");
  let tool: string;
  let spec: string | undefined;
  if (open === -1) {
    tool = trimmed;
  } else {
    if (!trimmed.endsWith(")")) return { error: `"${text}" opens "(" without a closing ")" at the end` };
    tool = trimmed.slice(0, open).trim();
    spec = trimmed.slice(open + 1, -1);
    if (spec.trim() === "")
      return { error: `"${text}" has an empty specifier; write ${tool} alone to match every use` };
  }
  if (!TOOL_PART.test(tool)) return { error: `"${text}": "${tool}" is not a tool name` };
  if (tool.includes("*") && !tool.startsWith("mcp__")) {
    return { error: `"${text}": wildcards in tool names are only allowed for mcp__ tools` };
  }
  // A capitalized name close to a rule name is a typo that would silently match nothing: a
  // deny rule written `Bahs(rm:*)` or `BASH(rm:*)` must not leave rm allowed. (Host tools use
  // their own names, e.g. `deploy`; built-in tools answer to `bash`, `read_file`...)
  if (/^[A-Z]/.test(tool) && !RULE_NAMES.includes(tool) && !FOREIGN_NAMES.has(tool)) {
    const near = suggestKey(tool, RULE_NAMES);
    if (near !== undefined)
      return {
        error: `"${text}": no rule is named "${tool}"; did you mean "${near}"? (rule names are case-sensitive)`,
      };
  }
  tool = ALIASES[tool] ?? tool;
  const specifier = compileSpecifier(tool, spec);
  if ("error" in specifier) return { error: `"${text}": ${specifier.error}` };
  return { text: trimmed, tool, specifier, ...where };
}

function compileSpecifier(tool: string, spec: string | undefined): Specifier | { error: string } {
  if (spec === undefined || spec.trim() === "*") return { kind: "any" };
  if (tool.startsWith("mcp__")) {
    return {
      error: "MCP rules take no specifier; use mcp__server, mcp__server__tool or mcp__server__prefix*",
    };
  }
  if (PATH_RULES.has(tool)) {
    const pattern = compilePathPattern(spec);
    return "error" in pattern ? pattern : { kind: "path", pattern };
  }
  if (tool === "WebFetch") {
    const pattern = compileDomainPattern(spec);
    return "error" in pattern ? pattern : { kind: "domain", pattern };
  }
  // `Skill(name)` covers the skill whatever its arguments, so a deny rule cannot be walked
  // around by adding some; `Skill(name args)` narrows to those arguments.
  if (tool === "Skill" && !/\s/.test(spec.trim()) && !spec.includes("*")) {
    return { kind: "command", pattern: { ...compileWildcard(`${spec.trim()}:*`), source: spec } };
  }
  return { kind: "command", pattern: compileWildcard(spec) };
}

/** Rule lists as written in settings: `{ allow, deny, ask }`. */
export interface RuleLists {
  readonly allow?: readonly string[] | undefined;
  readonly deny?: readonly string[] | undefined;
  readonly ask?: readonly string[] | undefined;
}

/**
 * Parses every rule of one source. Collects all problems and returns them together so a
 * settings file can be fixed in one go.
 */
export function parseRuleLists(
  lists: RuleLists,
  source: RuleSource,
  origin: string,
): { rules: PermissionRule[]; errors: string[] } {
  const rules: PermissionRule[] = [];
  const errors: string[] = [];
  for (const list of ["deny", "ask", "allow"] as const) {
    (lists[list] ?? []).forEach((text, index) => {
      const parsed = parseRule(text, { list, source, origin });
      if ("error" in parsed) errors.push(`permissions.${list}[${index}]: ${parsed.error}`);
      else rules.push(parsed);
    });
  }
  return { rules, errors };
}
