import type { Frame } from "./effects.ts";
import { applyEffects } from "./effects.ts";
import type { SyntaxNode } from "./parser.ts";
import { SUBSCRIPT_CODE } from "./subscript.ts";
import type { ShellCommand } from "./types.ts";
import { resolveCommand } from "./unwrap.ts";
import type { Walk } from "./walk.ts";
import { assignmentCommand, redirectOnly } from "./walk-helpers.ts";
import { expandAssignmentValue, expandWord, type Field, scanSubstitutions } from "./words.ts";

// Parts of the walk (walk.ts) for assignments, declarations, arithmetic and `[[ ]]`.

/** Text that runs a command where bash evaluates it as code (`$(...)` or backquotes). */
const CODE_IN_TEXT = /\$\(|`/;

/** The name an assignment sets; what runs in an array subscript (`a[$(cmd)]=1`) is walked. */
export function assignedName(walk: Walk, node: SyntaxNode, frame: Frame): string {
  const name = node.childForFieldName("name");
  if (name && name.type !== "variable_name") {
    scanSubstitutions(name, walk);
    arithmetic(walk, name, frame);
  }
  return name?.text ?? "";
}

/**
 * Bash evaluates arithmetic (`$((x))`, `(( ))`, `let`, `[[ x -eq y ]]`, indexed subscripts)
 * recursively: a variable whose value is text like `a[$(cmd)]` runs `cmd` there. When the
 * line has set a variable to text holding a command substitution, such a place is opaque.
 */
export function arithmetic(walk: Walk, node: SyntaxNode, frame: Frame): void {
  for (const value of walk.vars.values())
    if (value !== null && CODE_IN_TEXT.test(value)) {
      opaqueAt(
        walk,
        node,
        frame,
        "arithmetic here evaluates a variable set to text with a command substitution",
      );
      return;
    }
}

/** `[[ ... ]]`: `-v 'a[$(cmd)]'` and arithmetic comparisons evaluate subscripts and values. */
export function testCommand(walk: Walk, node: SyntaxNode, frame: Frame): void {
  if (/\s-(eq|ne|lt|le|gt|ge)\s/.test(node.text)) arithmetic(walk, node, frame);
  const quoted = (n: SyntaxNode): boolean =>
    ((n.type === "raw_string" || n.type === "string") && SUBSCRIPT_CODE.test(n.text)) ||
    n.namedChildren.some(quoted);
  if (quoted(node))
    opaqueAt(walk, node, frame, "[[ ]] evaluates an array subscript given as text, which can run commands");
}

/** Records that what `node` does cannot be judged from its text. */
export function opaqueAt(walk: Walk, node: SyntaxNode, frame: Frame, reason: string): void {
  walk.commands.push({ ...redirectOnly(node.text, [], walk.dirs, frame.origin), opaque: { reason } });
}

/** A statement of assignments only (`a=1 b=$(cmd)`): one command record, its effects applied. */
export function assignmentsOnly(walk: Walk, node: SyntaxNode, frame: Frame): ShellCommand[] {
  const list = node.type === "variable_assignments" ? node.namedChildren : [node];
  const subs: { kind: "command" | "process"; commands: ShellCommand[] }[] = [];
  const outer = walk.subs;
  walk.subs = subs;
  const assignments = list
    .filter((c): c is SyntaxNode => c?.type === "variable_assignment")
    .map((c) => ({
      name: assignedName(walk, c, frame),
      value: expandAssignmentValue(c.childForFieldName("value"), walk),
    }));
  walk.subs = outer;
  const only = assignmentCommand(node.text, assignments, [], walk.dirs, frame.origin, subs);
  walk.commands.push(only);
  applyEffects(only, frame, walk);
  return [only];
}

/** `declare`/`local`/`export`/`readonly`/`unset` with their assignments, as one command. */
export function declaration(walk: Walk, node: SyntaxNode, frame: Frame): ShellCommand[] {
  const keyword = node.children[0]?.text ?? "";
  const argv: Field[] = [{ match: keyword, text: keyword, known: true, glob: false, dynamic: false }];
  const assignments: { name: string; value: Field }[] = [];
  const subs: { kind: "command" | "process"; commands: ShellCommand[] }[] = [];
  const outer = walk.subs;
  walk.subs = subs;
  for (const child of node.namedChildren) {
    if (!child) continue;
    if (child.type === "variable_assignment") {
      const name = assignedName(walk, child, frame);
      const value = expandAssignmentValue(child.childForFieldName("value"), walk);
      assignments.push({ name, value });
      argv.push({ ...value, match: `${name}=${value.match}`, text: `${name}=${value.text}` });
    } else argv.push(...expandWord(child, walk));
  }
  walk.subs = outer;
  const main = resolveCommand(
    argv,
    {
      assignments: [],
      declared: assignments,
      redirects: [],
      text: node.text,
      origin: frame.origin,
      dirs: walk.dirs,
      stdin: frame.stdin,
      substitutions: subs,
      anomaly: undefined,
    },
    walk,
  );
  applyEffects(main, frame, walk);
  for (const a of assignments) walk.vars.set(a.name, frame.definite && a.value.known ? a.value.text : null);
  return [main];
}
