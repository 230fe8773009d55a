import { basename } from "node:path";
import { hostOf } from "./domains.ts";
import { identityOf, subjectsOf, type ToolFacts } from "./identity.ts";
import { type ResolvedPath, resolvePath } from "./paths.ts";
import { isReadOnlyCommand } from "./readonly-commands.ts";
import { analyzeShell, HOLE, type Opaque, type ShellAnalysis, type ShellCommand } from "./shell/index.ts";

/**
 * One thing a call does that rules judge separately: a simple command of a Bash line, a
 * file a redirection writes, a path, a URL, or the call as a whole. A call is allowed only
 * when every facet is.
 */
export type Facet =
  | {
      readonly kind: "command";
      /** The normalized command (quotes removed, expanded, path reduced to its name) for people. */
      readonly subject: string;
      /** What deny and ask rules match: normalized words, command path reduced to its name, HOLE where unknown. */
      readonly match: string;
      /** What allow rules match: as `match`, but a path is reduced only from the system's bin directories. */
      readonly allowMatch: string;
      /** `allowMatch` with the line's `NAME=value` assignments in front. */
      readonly fullMatch: string;
      /** The simple command as written. */
      readonly raw: string;
      readonly part: ShellCommand | undefined;
      /** Set when what runs cannot be known from the text: only a rule naming it exactly allows it. */
      readonly opaque: Opaque | undefined;
      /** A transparent wrapper's form (`timeout 5 x`): deny and ask rules see it, allow rules need not. */
      readonly wrapper: boolean;
      readonly sideEffects: boolean;
    }
  | {
      readonly kind: "read" | "edit";
      readonly subject: string;
      /** Undefined when the path depends on an expansion and cannot be known before running. */
      readonly path: ResolvedPath | undefined;
      /** A redirection of a Bash command rather than the tool's own path. */
      readonly redirect: boolean;
    }
  | {
      readonly kind: "network";
      readonly subject: string;
      readonly host: string | undefined;
      readonly sideEffects: boolean;
    }
  | { readonly kind: "generic"; readonly subject: string | undefined; readonly sideEffects: boolean };

/** The facets of a call, with the rule names that govern it. */
export interface CallFacets {
  /** Rule name from the tool's identity (`Bash`, `Read`, `Edit`, `WebFetch`, `Skill`, or its own). */
  readonly rule: string;
  readonly toolName: string;
  readonly facets: Facet[];
  /** The whole command for Bash calls (what a command check judges). */
  readonly command: string | undefined;
  /** The shell analysis of `command`, shared with the command check. */
  readonly analysis?: ShellAnalysis | undefined;
  /** The tool destroys data (Tool.destructive): only a rule naming it allows it. */
  readonly destructive?: boolean | undefined;
}

/** Splits a call into facets; resolves paths (through symlinks) relative to `cwd`. */
export async function callFacets(
  tool: ToolFacts,
  input: unknown,
  cwd: string,
  home: string,
): Promise<CallFacets> {
  const identity = identityOf(tool);
  const subjects = subjectsOf(identity, input);
  const base = {
    rule: identity.rule,
    toolName: tool.name,
    ...(tool.destructive === true ? { destructive: true } : {}),
  };
  switch (identity.rule) {
    case "Bash": {
      const command = subjects.join("\n");
      const analysis = await analyzeShell(command, { cwd, home });
      return { ...base, command, analysis, facets: await commandFacets(command, analysis, cwd, home) };
    }
    case "Read":
    case "Edit": {
      const kind = identity.rule === "Read" ? "read" : "edit";
      const facets: Facet[] = [];
      for (const subject of subjects) {
        facets.push({ kind, subject, path: await resolvePath(subject, cwd, home), redirect: false });
      }
      if (facets.length === 0) facets.push({ kind, subject: "", path: undefined, redirect: false });
      return { ...base, command: undefined, facets };
    }
    case "WebFetch": {
      const sideEffects = !tool.readOnly;
      const facets: Facet[] = subjects.map((subject) => ({
        kind: "network",
        subject,
        host: hostOf(subject),
        sideEffects,
      }));
      if (facets.length === 0) facets.push({ kind: "network", subject: "", host: undefined, sideEffects });
      return { ...base, command: undefined, facets };
    }
    default: {
      const sideEffects = !tool.readOnly;
      const facets: Facet[] =
        subjects.length === 0
          ? [{ kind: "generic", subject: undefined, sideEffects }]
          : subjects.map((subject) => ({ kind: "generic", subject, sideEffects }));
      return { ...base, command: undefined, facets };
    }
  }
}

/** Paths a redirection may name that are not files (no rule needs to allow them). */
const SPECIAL_FILES = /^\/dev\/(null|stdout|stderr|stdin|tty|zero|fd\/\d+)$/;

/** Directories whose programs a bare name finds anyway: `/usr/bin/git` is `git` for allow rules too. */
const SYSTEM_BIN = /^\/(usr\/(local\/)?)?s?bin\/[^/]+$|^\/opt\/homebrew\/bin\/[^/]+$/;

async function commandFacets(
  command: string,
  analysis: ShellAnalysis,
  cwd: string,
  home: string,
): Promise<Facet[]> {
  const facets: Facet[] = [];
  if (!analysis.ok) {
    // Unparsed, the line could run anything: every deny and ask rule may apply.
    facets.push({
      kind: "command",
      subject: command,
      match: HOLE,
      allowMatch: command,
      fullMatch: command,
      raw: command,
      part: undefined,
      opaque: { reason: analysis.error ?? "it cannot be parsed" },
      wrapper: false,
      sideEffects: true,
    });
  }
  for (const cmd of analysis.commands) {
    if (cmd.origin === "remote") continue;
    // After a parse error the whole line is one opaque facet; what the recovered tree shows
    // still meets deny and ask rules.
    if (cmd.argv.length > 0 || cmd.opaque)
      facets.push(analysis.ok ? commandFacet(cmd) : { ...commandFacet(cmd), wrapper: true });
    for (const r of cmd.redirects) {
      if (r.op.startsWith("<<")) continue;
      const kind = r.write ? "edit" : "read";
      for (const p of r.paths) {
        if (SPECIAL_FILES.test(p)) continue;
        facets.push({ kind, subject: p, path: await resolvePath(p, cwd, home), redirect: true });
      }
      if (r.unknownPath && !SPECIAL_FILES.test(r.target.text))
        facets.push({ kind, subject: r.target.text, path: undefined, redirect: true });
    }
  }
  if (facets.length === 0) {
    // Only assignments or an empty line: nothing runs, but rules still see the line.
    const text = command.trim();
    facets.push({
      kind: "command",
      subject: text,
      match: text,
      allowMatch: text,
      fullMatch: text,
      raw: text,
      part: undefined,
      opaque: undefined,
      wrapper: false,
      sideEffects: false,
    });
  }
  return facets;
}

function commandFacet(cmd: ShellCommand): Extract<Facet, { kind: "command" }> {
  const [first, ...rest] = cmd.argv;
  const tail = rest.map((f) => f.match);
  const name = first ? (first.match.includes("/") && first.known ? basename(first.match) : first.match) : "";
  const allowName = first ? (SYSTEM_BIN.test(first.match) ? basename(first.match) : first.match) : "";
  const match = [name, ...tail].join(" ");
  const allowMatch = [allowName, ...tail].join(" ");
  const assigned = cmd.assignments.map((a) => `${a.name}=${a.value.match}`);
  const subject = first ? [name, ...rest.map((f) => f.text)].join(" ") : cmd.text;
  return {
    kind: "command",
    subject: subject.replaceAll(HOLE, "…"),
    match: first ? match : assigned.join(" "),
    allowMatch: first ? allowMatch : assigned.join(" "),
    fullMatch: [...assigned, ...(first ? [allowMatch] : [])].join(" "),
    raw: cmd.text,
    part: cmd,
    opaque: cmd.opaque,
    wrapper: cmd.role === "wrapper",
    sideEffects: cmd.opaque !== undefined || !isReadOnlyCommand(cmd),
  };
}

/** True when the facet changes something (what plan mode refuses). */
export function hasSideEffects(facet: Facet): boolean {
  switch (facet.kind) {
    case "command":
    case "generic":
    case "network":
      return facet.sideEffects;
    case "edit":
      return true;
    case "read":
      return false;
  }
}
