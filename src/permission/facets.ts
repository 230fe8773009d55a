import { hostOf } from "./domains.ts";
import { identityOf, subjectsOf, type ToolFacts } from "./identity.ts";
import { type ResolvedPath, resolvePath } from "./paths.ts";
import { isReadOnlyCommand } from "./readonly-commands.ts";
import { analyzeCommand, type CommandPart } from "./shell.ts";

/**
 * One thing a call does that rules judge separately: a simple command of a Bash line, a
 * file a redirection writes, a path, a URL, or the call as a whole. A call is allowed only
 * when every facet is.
 */
export type Facet =
  | {
      readonly kind: "command";
      readonly subject: string;
      readonly part: CommandPart | undefined;
      /** True when the line could not be parsed: only deny/ask rules and a bare `Bash` allow apply. */
      readonly unparsed: boolean;
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
  const base = { rule: identity.rule, toolName: tool.name };
  switch (identity.rule) {
    case "Bash": {
      const command = subjects.join("\n");
      return { ...base, command, facets: await commandFacets(command, cwd, home) };
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

async function commandFacets(command: string, cwd: string, home: string): Promise<Facet[]> {
  const analysis = analyzeCommand(command);
  if (!analysis.ok) {
    return [{ kind: "command", subject: command, part: undefined, unparsed: true, sideEffects: true }];
  }
  const facets: Facet[] = analysis.parts.map((part) => ({
    kind: "command",
    subject: part.text,
    part,
    unparsed: false,
    sideEffects: !isReadOnlyCommand(part),
  }));
  for (const target of analysis.redirects) {
    const kind = target.write ? "edit" : "read";
    const path = target.path === undefined ? undefined : await resolvePath(target.path, cwd, home);
    facets.push({ kind, subject: target.path ?? target.text, path, redirect: true });
  }
  if (facets.length === 0) {
    // Only assignments or an empty line: nothing runs, but rules still see the line.
    facets.push({
      kind: "command",
      subject: command.trim(),
      part: undefined,
      unparsed: false,
      sideEffects: false,
    });
  }
  return facets;
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
