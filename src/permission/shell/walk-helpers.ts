import { staticOutput } from "./effects.ts";
import type { SyntaxNode } from "./parser.ts";
import type { CommandOrigin, Dirs, ShellCommand, ShellRedirect } from "./types.ts";
import { dangerousAssignments, type Stdin } from "./unwrap.ts";
import type { Field } from "./words.ts";

// Pieces of the walk over the syntax tree (walk.ts) that need no walk state.

/** Statement nodes: everything else inside a statement position is only scanned for substitutions. */
export const STATEMENTS = new Set([
  "program",
  "command",
  "pipeline",
  "list",
  "redirected_statement",
  "subshell",
  "compound_statement",
  "variable_assignment",
  "variable_assignments",
  "declaration_command",
  "unset_command",
  "negated_command",
  "test_command",
  "function_definition",
  "if_statement",
  "elif_clause",
  "else_clause",
  "while_statement",
  "for_statement",
  "c_style_for_statement",
  "case_statement",
  "case_item",
  "do_group",
  "ERROR",
]);

export function joinFields(a: Field, b: Field): Field {
  return {
    match: a.match + b.match,
    text: a.text + b.text,
    known: a.known && b.known,
    glob: a.glob || b.glob,
    dynamic: a.dynamic || b.dynamic,
  };
}

export function stdinFrom(ran: readonly ShellCommand[], walk: { readonly cwd: string | undefined }): Stdin {
  const last = ran[ran.length - 1];
  if (!last) return { kind: "unknown" };
  const text = staticOutput(last, walk);
  return text === undefined ? { kind: "unknown" } : { kind: "literal", text };
}

export function assignmentCommand(
  text: string,
  assignments: { name: string; value: Field }[],
  redirects: ShellRedirect[],
  dirs: Dirs,
  origin: CommandOrigin,
  substitutions: ShellCommand["substitutions"],
): ShellCommand {
  const opaque = dangerousAssignments(assignments);
  return {
    ...(opaque ? { opaque } : {}),
    argv: [],
    name: "",
    path: "",
    args: [],
    assignments,
    redirects,
    via: [],
    text,
    substitutions,
    dirs,
    origin,
    role: "run",
  };
}

export function redirectOnly(
  text: string,
  redirects: ShellRedirect[],
  dirs: Dirs,
  origin: CommandOrigin,
): ShellCommand {
  return assignmentCommand(text, [], redirects, dirs, origin, []);
}

export function describeError(root: SyntaxNode, text: string): string {
  let at: SyntaxNode | null = null;
  const find = (n: SyntaxNode): void => {
    if (at) return;
    if (n.type === "ERROR" || n.isMissing) {
      at = n;
      return;
    }
    for (const c of n.children) if (c?.hasError) find(c);
  };
  find(root);
  const node = at as SyntaxNode | null;
  if (!node) return "cannot parse the command";
  const near = text.slice(node.startIndex, node.startIndex + 30).split("\n")[0];
  return node.isMissing
    ? `cannot parse the command: missing ${node.type} at offset ${node.startIndex}`
    : `cannot parse the command near ${JSON.stringify(near)} (offset ${node.startIndex})`;
}
