import { type CallFacets, type Facet, hasSideEffects } from "./facets.ts";
import { hiddenLaunch } from "./hidden-launch.ts";
import type { PermissionMode, PermissionVerdict } from "./modes.ts";
import { isInside, matchPath, type ResolvedBases } from "./paths.ts";
import { matchName, type WildcardPattern } from "./pattern.ts";
import type { PermissionRule, RuleList, RuleSource } from "./rules.ts";
import type { Opaque, ShellAnalysis } from "./shell/index.ts";
import { suggestRule } from "./suggest.ts";

/** What decided a call: a rule's source, the mode's default, or the command check. */
export type DecisionSource = RuleSource | "mode" | "command_check";

/** The evaluator's answer for one call. */
export interface PermissionDecision {
  readonly decision: PermissionVerdict;
  /** The deciding rule as written, when a rule decided. */
  readonly rule?: string | undefined;
  readonly source?: DecisionSource | undefined;
  /** The settings file (or flag) the rule came from. */
  readonly origin?: string | undefined;
  /** One sentence for people and (on deny) for the model. */
  readonly reason: string;
  /** Allow rules an "always allow" answer would add (only for asks no rule forced). */
  readonly suggestions: readonly string[];
  /** The part of the call that decided (a command, a path, a URL). */
  readonly subject?: string | undefined;
}

/**
 * A check that runs on the whole Bash command before any rule (the command-defense seam).
 * `deny` ends the evaluation; `ask` makes an otherwise allowed command ask (it never makes
 * a denied one less strict); `allow` means no objection — the rules still decide.
 */
export type CommandCheck = (
  command: string,
  context?: CommandCheckContext,
) => CommandVerdict | Promise<CommandVerdict>;

/** Where a checked command runs, and its shell analysis when the caller already has one. */
export interface CommandCheckContext {
  readonly cwd: string;
  readonly home: string;
  readonly analysis?: ShellAnalysis | undefined;
}

/** A command check's finding. */
export interface CommandVerdict {
  readonly verdict: PermissionVerdict;
  readonly category?: string;
  readonly reason?: string;
}

/** Everything the evaluation needs besides the call. */
export interface EvaluationContext {
  /** Rules in precedence order (managed first, session last). */
  readonly rules: readonly PermissionRule[];
  readonly mode: PermissionMode;
  readonly bases: ResolvedBases;
  /** Resolved working directories: cwd, project root and additional directories. */
  readonly workingDirs: readonly string[];
  readonly commandCheck?: CommandCheck | undefined;
}

interface FacetResult {
  readonly verdict: PermissionVerdict;
  readonly rule: PermissionRule | undefined;
  readonly why: string;
  /** Asked only because nothing allowed it: "always allow" can help. */
  readonly suggestable: boolean;
}

/**
 * Decides a call: deny rules first, then ask, then allow — the first match in that order
 * wins, and specificity never overrides it. Every facet of the call must be allowed; the
 * mode supplies the answer when no rule matches. Never throws.
 */
export async function evaluateCall(call: CallFacets, ctx: EvaluationContext): Promise<PermissionDecision> {
  let checked: CommandVerdict | undefined;
  if (call.command !== undefined && ctx.commandCheck) {
    try {
      checked = await ctx.commandCheck(call.command, {
        cwd: ctx.bases.lexical.cwd,
        home: ctx.bases.lexical.home,
        analysis: call.analysis,
      });
    } catch (err) {
      checked = { verdict: "ask", reason: `the command check failed: ${(err as Error).message}` };
    }
    if (checked.verdict === "deny") {
      return {
        decision: "deny",
        source: "command_check",
        rule: checked.category,
        reason: checkReason(checked, "blocked"),
        suggestions: [],
        subject: call.command,
      };
    }
  }
  const results = call.facets.map((facet) => ({ facet, result: judgeFacet(call, facet, ctx) }));
  const denied = results.find((r) => r.result.verdict === "deny");
  const asked = results.find((r) => r.result.verdict === "ask");
  let decision: PermissionDecision;
  if (denied) {
    decision = fromFacet(denied.facet, denied.result, []);
  } else if (checked?.verdict === "ask") {
    decision = {
      decision: "ask",
      source: "command_check",
      rule: checked.category,
      reason: checkReason(checked, "needs a decision"),
      suggestions: [],
      subject: call.command,
    };
  } else if (asked) {
    const suggestions = new Set<string>();
    for (const { facet, result } of results) {
      if (result.verdict !== "ask" || !result.suggestable) continue;
      const rule = suggestRule(call.rule, call.toolName, facet, ctx.bases.real.cwd);
      if (rule) suggestions.add(rule);
    }
    decision = fromFacet(asked.facet, asked.result, [...suggestions]);
  } else {
    const decisive = results.find((r) => r.result.rule) ?? results[0];
    decision = decisive
      ? fromFacet(decisive.facet, decisive.result, [])
      : { decision: "allow", source: "mode", reason: "nothing to check", suggestions: [] };
  }
  if (decision.decision === "ask" && ctx.mode === "dontAsk") {
    return {
      ...decision,
      decision: "deny",
      reason: `${decision.reason}; dontAsk mode denies what would ask`,
      suggestions: [],
    };
  }
  return decision;
}

function checkReason(checked: CommandVerdict, what: string): string {
  const category = checked.category ? ` (${checked.category})` : "";
  return `the command check ${what} this command${category}${checked.reason ? `: ${checked.reason}` : ""}`;
}

function fromFacet(facet: Facet, result: FacetResult, suggestions: string[]): PermissionDecision {
  const rule = result.rule;
  return {
    decision: result.verdict,
    rule: rule?.text,
    source: rule ? rule.source : "mode",
    origin: rule?.origin,
    reason: result.why,
    suggestions,
    subject: facet.subject,
  };
}

function judgeFacet(call: CallFacets, facet: Facet, ctx: EvaluationContext): FacetResult {
  const label = describe(facet);
  const deny = firstRule(call, facet, ctx, "deny");
  if (deny)
    return {
      verdict: "deny",
      rule: deny,
      why: `${label} matches deny rule ${where(deny)}`,
      suggestable: false,
    };
  if (ctx.mode === "plan" && hasSideEffects(facet)) {
    return {
      verdict: "deny",
      rule: undefined,
      why: `${label} has side effects, and plan mode allows none`,
      suggestable: false,
    };
  }
  const ask = firstRule(call, facet, ctx, "ask");
  if (ask)
    return { verdict: "ask", rule: ask, why: `${label} matches ask rule ${where(ask)}`, suggestable: false };
  if (facet.kind === "command" && !facet.wrapper && facet.part) {
    const hidden = hiddenLaunch(
      facet.part,
      ctx.rules,
      (rule) => nameMatches(rule.tool, call.rule) || nameMatches(rule.tool, call.toolName),
    );
    if (hidden)
      return {
        verdict: "ask",
        rule: hidden.rule,
        why: `${label} may start ${hidden.program}, which ${hidden.rule.list} rule ${where(hidden.rule)} names, through a program the analysis does not know`,
        suggestable: false,
      };
  }
  // A transparent wrapper's form: the wrapped command is judged on its own.
  if (facet.kind === "command" && facet.wrapper)
    return {
      verdict: "allow",
      rule: undefined,
      why: `${label} only wraps another command`,
      suggestable: false,
    };
  let allow = firstRule(call, facet, ctx, "allow");
  if (call.destructive && allow && !namesTool(allow, call)) {
    // A destructive tool: only a rule naming it counts (ADR 2203).
    const broad = allow;
    allow = ctx.rules.find(
      (r) => r.list === "allow" && namesTool(r, call) && ruleApplies(r, call, facet, ctx.bases, "strict"),
    );
    if (!allow)
      return {
        verdict: "ask",
        rule: undefined,
        why: `${label} is destructive (${call.toolName}); ${where(broad)} covers it only through a wildcard, and only an allow rule naming the tool runs it without asking`,
        suggestable: true,
      };
  }
  if (call.destructive && !allow)
    return {
      verdict: "ask",
      rule: undefined,
      why: `${label} is destructive (${call.toolName}): only an allow rule naming the tool runs it without asking`,
      suggestable: true,
    };
  if (allow)
    return {
      verdict: "allow",
      rule: allow,
      why: `${label} matches allow rule ${where(allow)}`,
      suggestable: false,
    };
  return modeDefault(facet, ctx, label);
}

function modeDefault(facet: Facet, ctx: EvaluationContext, label: string): FacetResult {
  const mode = ctx.mode;
  const result = (verdict: PermissionVerdict, why: string): FacetResult => ({
    verdict,
    rule: undefined,
    why: `${label} ${why}`,
    suggestable: verdict === "ask",
  });
  if (mode === "bypassPermissions") return result("allow", "is allowed in bypassPermissions mode");
  const inside =
    (facet.kind === "read" || facet.kind === "edit") && facet.path
      ? isInside(facet.path.real, ctx.workingDirs)
      : false;
  switch (facet.kind) {
    case "read":
      return inside
        ? result("allow", "is inside the working directories")
        : result(
            "ask",
            facet.path ? "is outside the working directories" : "cannot be resolved before running",
          );
    case "edit":
      if (mode === "acceptEdits" && inside)
        return result("allow", "is an edit inside the working directories (acceptEdits)");
      return result(
        "ask",
        facet.path ? "is an edit no rule allows" : "is an edit whose path cannot be known before running",
      );
    case "command":
      return facet.opaque
        ? {
            ...result(
              "ask",
              `cannot be judged before running: ${facet.opaque.reason}; only a rule naming it exactly allows it`,
            ),
            suggestable: false,
          }
        : result("ask", "is a command no rule allows");
    case "network":
      return result("ask", facet.host ? "is a request no rule allows" : "is not an http(s) URL");
    case "generic":
      return facet.sideEffects
        ? result("ask", "has side effects and no rule allows it")
        : result("allow", "is read-only");
  }
}

function firstRule(
  call: CallFacets,
  facet: Facet,
  ctx: EvaluationContext,
  list: RuleList,
): PermissionRule | undefined {
  const how = list === "allow" ? "strict" : "loose";
  return ctx.rules.find((rule) => rule.list === list && ruleApplies(rule, call, facet, ctx.bases, how));
}

function ruleApplies(
  rule: PermissionRule,
  call: CallFacets,
  facet: Facet,
  bases: ResolvedBases,
  how: "strict" | "loose",
): boolean {
  const named =
    (facet.kind === "read" || facet.kind === "edit") && facet.redirect
      ? rule.tool === (facet.kind === "read" ? "Read" : "Edit")
      : nameMatches(rule.tool, call.rule) || nameMatches(rule.tool, call.toolName);
  if (!named) return false;
  const spec = rule.specifier;
  const opaque = facet.kind === "command" ? facet.opaque : undefined;
  switch (spec.kind) {
    case "any":
      // A bare `Bash` allow does not reach what the analysis cannot see.
      return how === "loose" || opaque === undefined;
    case "command":
      if (facet.kind === "command") {
        if (how === "loose")
          return (
            spec.pattern.couldMatch(facet.match) ||
            spec.pattern.couldMatch(facet.allowMatch) ||
            spec.pattern.test(facet.raw)
          );
        if (opaque) return namesExactly(spec.pattern, facet, opaque);
        return spec.pattern.test(facet.allowMatch);
      }
      if (facet.kind === "generic") return facet.subject !== undefined && spec.pattern.test(facet.subject);
      return false;
    case "path":
      return (facet.kind === "read" || facet.kind === "edit") && facet.path !== undefined
        ? matchPath(spec.pattern, facet.path, bases, how)
        : false;
    case "domain":
      return facet.kind === "network" && facet.host !== undefined && spec.pattern.test(facet.host);
  }
}

/**
 * An allow rule covers an opaque command only when it names it: written out exactly
 * (`Bash(python3 -c "print(1)")`), or with the opaque part spelled before any wildcard
 * (`Bash(python3 -c:*)`, `Bash(GIT_PAGER=delta git log:*)`).
 */
function namesExactly(
  pattern: WildcardPattern,
  facet: Extract<Facet, { kind: "command" }>,
  opaque: Opaque,
): boolean {
  if (pattern.exact)
    return pattern.test(facet.raw) || pattern.test(facet.fullMatch) || pattern.test(facet.allowMatch);
  const pin = opaque.pin;
  if (pin === undefined) return false;
  const prefix = pattern.literalPrefix;
  const covers =
    prefix === pin || prefix.startsWith(`${pin} `) || (prefix.startsWith(pin) && pin.endsWith(" "));
  return covers && (pattern.test(facet.fullMatch) || pattern.test(facet.allowMatch));
}

/** The rule names the tool itself: not a wildcard or a server-wide `mcp__server`. */
function namesTool(rule: PermissionRule, call: CallFacets): boolean {
  return rule.tool === call.toolName || rule.tool === call.rule;
}

/** `mcp__server` covers every tool of that server; `*` wildcards apply to MCP names. */
function nameMatches(ruleTool: string, name: string): boolean {
  if (ruleTool === name) return true;
  if (!ruleTool.startsWith("mcp__")) return false;
  if (ruleTool.split("__").length === 2 && name.startsWith(`${ruleTool}__`)) return true;
  return ruleTool.includes("*") && matchName(ruleTool, name);
}

function describe(facet: Facet): string {
  switch (facet.kind) {
    case "command":
      return `\`${facet.subject}\``;
    case "read":
      return facet.redirect ? `reading ${facet.subject} (redirection)` : `reading ${facet.subject}`;
    case "edit":
      return facet.redirect ? `writing ${facet.subject} (redirection)` : `editing ${facet.subject}`;
    case "network":
      return `fetching ${facet.subject}`;
    case "generic":
      return facet.subject === undefined ? "the call" : `\`${facet.subject}\``;
  }
}

function where(rule: PermissionRule): string {
  const origin = rule.origin && rule.origin !== rule.source ? `: ${rule.origin}` : "";
  return `${rule.text} (${rule.source}${origin})`;
}
