import type { Parser } from "web-tree-sitter";
import { applyEffects, type Frame, staticOutput } from "./effects.ts";
import { loadedShellParser, loadShellParser, type SyntaxNode, withTree } from "./parser.ts";
import { redirectOf } from "./redirects.ts";
import { SUBSCRIPT_CODE } from "./subscript.ts";
import type {
  CommandOrigin,
  Dirs,
  ShellAnalysis,
  ShellCommand,
  ShellContext,
  ShellRedirect,
} from "./types.ts";
import { type ResolveEnv, resolveCommand, type Stdin } from "./unwrap.ts";
import {
  assignmentCommand,
  describeError,
  joinFields,
  redirectOnly,
  STATEMENTS,
  stdinFrom,
} from "./walk-helpers.ts";
import { expandAssignmentValue, expandWord, type Field, scanSubstitutions, type WordScope } from "./words.ts";

const MAX_DEPTH = 6;
/** Text that runs a command where bash evaluates it as code (`$(...)` or backquotes). */
const CODE_IN_TEXT = /\$\(|`/;

const MAX_LENGTH = 64 * 1024;
const NO_NODES: readonly SyntaxNode[] = [];
const NO_STDIN: Stdin = { kind: "none" };

/**
 * Analyses a command line: every simple command it would run, normalized and unwrapped,
 * with `cd` followed and variables assigned in the line tracked. Loads the parser on
 * first use. Never throws for any input.
 */
export async function analyzeShell(command: string, context: ShellContext): Promise<ShellAnalysis> {
  return analyzeShellSync(loadedShellParser() ?? (await loadShellParser()), command, context);
}

/** `analyzeShell` with a loaded parser (see `loadShellParser`). */
export function analyzeShellSync(parser: Parser, command: string, context: ShellContext): ShellAnalysis {
  if (command.length > MAX_LENGTH) {
    return {
      ok: false,
      error: `the command is ${command.length} characters long, more than the ${MAX_LENGTH} analyzed`,
      commands: [],
      pipelines: [],
      code: [],
      scripts: [],
    };
  }
  const run = new Walk(parser, context);
  const frame: Frame = { definite: true, origin: "line", stdin: { kind: "none" } };
  let result: { ok: boolean };
  try {
    result = run.script(command, frame, true);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    // Nesting deeper than the stack: nothing can be judged from what was seen.
    return {
      ok: false,
      error: "the command nests too deeply to analyze",
      commands: [],
      pipelines: [],
      code: [],
      scripts: [],
    };
  }
  const error = result.ok ? run.firstError : (run.firstError ?? "the command cannot be parsed");
  return {
    ok: error === undefined,
    error,
    commands: run.commands,
    pipelines: run.pipelines,
    code: run.code,
    scripts: run.scripts,
  };
}

/** One analysis run: the state a shell would have while running the line. */
export class Walk implements WordScope, ResolveEnv {
  readonly commands: ShellCommand[] = [];
  readonly pipelines: ShellCommand[][] = [];
  readonly code: { command: ShellCommand; code: string }[] = [];
  readonly scripts: string[] = [];
  readonly functions = new Set<string>();
  /** Files the line writes: known content, or null when the content is unknown. */
  readonly files = new Map<string, string | null>();
  /** Variables assigned in the line: their value, or null once it cannot be known. */
  readonly vars = new Map<string, string | null>();
  /** Commands whose output a variable holds (`x=$(curl ...)`). */
  readonly sources = new Map<string, ShellCommand[]>();
  dirs: Dirs;
  firstError: string | undefined;
  readonly home: string;
  private readonly parser: Parser;
  private depth = 0;
  private frame: Frame;
  /** Collects the substitutions of the command being built. */
  private subs: { kind: "command" | "process"; commands: ShellCommand[] }[] | undefined;
  private odd: string | undefined;

  constructor(parser: Parser, context: ShellContext) {
    this.parser = parser;
    this.home = context.home;
    this.dirs = { known: [context.cwd], unknown: false };
    this.frame = { definite: true, origin: "line", stdin: { kind: "none" } };
  }

  get cwd(): string | undefined {
    return this.dirs.known.length === 1 && !this.dirs.unknown ? this.dirs.known[0] : undefined;
  }

  get ifs(): string | undefined {
    return this.vars.has("IFS") ? undefined : " \t\n";
  }

  lookup(name: string): string | undefined {
    // A variable filled from a substitution carries those commands into where it is used.
    const sources = this.sources.get(name);
    if (sources && this.subs) this.subs.push({ kind: "command", commands: sources });
    const v = this.vars.get(name);
    if (v !== undefined) return v ?? undefined;
    if (this.vars.has(name)) return undefined;
    if (name === "HOME") return this.home;
    if (name === "PWD") return this.cwd;
    if (name === "IFS") return " \t\n";
    return undefined;
  }

  anomaly(_node: SyntaxNode, why: string): void {
    this.odd ??= why;
  }

  written(path: string): string | null | undefined {
    return this.files.get(path);
  }

  emit(command: ShellCommand): void {
    this.commands.push(command);
  }

  addCode(command: ShellCommand, code: string): void {
    this.code.push({ command, code });
  }

  /** Parses and walks a script; returns the commands at its top level and whether it parsed. */
  script(
    text: string,
    frame: Frame,
    sameShell: boolean,
  ): { ok: boolean; commands: ShellCommand[]; error?: string } {
    if (this.depth >= MAX_DEPTH) return { ok: false, commands: [], error: "scripts nest too deeply" };
    this.scripts.push(text);
    const saved = sameShell ? undefined : { dirs: this.dirs, vars: new Map(this.vars) };
    this.depth++;
    try {
      return withTree(this.parser, text, (root) => {
        const ok = !root.hasError;
        if (!ok && this.depth === 1) this.firstError ??= describeError(root, text);
        return { ok, commands: this.statement(root, frame) };
      });
    } finally {
      this.depth--;
      if (saved) {
        this.dirs = saved.dirs;
        this.vars.clear();
        for (const [k, v] of saved.vars) this.vars.set(k, v);
      }
    }
  }

  /** Walks a literal script from a command (`sh -c`, `eval`, a file written earlier). */
  nested(text: string, origin: CommandOrigin, sameShell: boolean, stdin: Stdin = { kind: "none" }) {
    return this.script(text, { definite: sameShell && this.frame.definite, origin, stdin }, sameShell);
  }

  substitution(node: SyntaxNode): string | undefined {
    const frame: Frame = { definite: false, origin: "substitution", stdin: { kind: "none" } };
    const outer = this.subs;
    const mine: ShellCommand[] = [];
    this.subs = undefined;
    const start = this.commands.length;
    let main: ShellCommand[] = [];
    for (const child of node.namedChildren) if (child) main = main.concat(this.statement(child, frame));
    mine.push(...this.commands.slice(start));
    this.subs = outer;
    if (node.type === "arithmetic_expansion") {
      this.arithmetic(node, this.frame);
      return undefined;
    }
    const kind = node.type === "process_substitution" ? "process" : "command";
    this.subs?.push({ kind, commands: mine });
    return kind === "command" && main.length === 1 ? staticOutput(main[0] as ShellCommand, this) : undefined;
  }

  /** Walks a statement node; returns the main commands it ran at its own level. */
  statement(node: SyntaxNode, frame: Frame): ShellCommand[] {
    const saved = this.frame;
    this.frame = frame;
    try {
      return this.visit(node, frame);
    } finally {
      this.frame = saved;
    }
  }

  private visit(node: SyntaxNode, frame: Frame): ShellCommand[] {
    const type = node.type;
    // Most nodes are commands: the loose frame (later statements of a list, loop bodies) is
    // made only where it is used.
    if (type === "command") return this.command(node, frame, NO_NODES);
    const loose = (): Frame => ({ ...frame, definite: false, stdin: NO_STDIN });
    switch (type) {
      case "compound_statement":
        if (node.children[0]?.type === "((") this.arithmetic(node, frame);
        return this.sequence(node, frame);
      case "program":
      case "do_group":
      case "ERROR":
        return this.sequence(node, frame);
      case "c_style_for_statement":
        this.arithmetic(node, frame);
        return this.sequence(node, loose());
      case "test_command":
        this.testCommand(node, frame);
        return this.sequence(node, loose());
      case "subshell":
        return this.sequence(node, { ...frame, definite: false });
      case "list": {
        const out: ShellCommand[] = [];
        node.namedChildren.forEach((child, i) => {
          if (child) out.push(...this.statement(child, i === 0 ? frame : loose()));
        });
        return out;
      }
      case "pipeline":
        return this.pipeline(
          node.namedChildren.filter((c): c is SyntaxNode => c !== null),
          frame,
          [],
        );
      case "redirected_statement":
        return this.redirected(node, frame);
      case "variable_assignment":
      case "variable_assignments":
        return this.assignmentsOnly(node, frame);
      case "declaration_command":
      case "unset_command":
        return this.declaration(node, frame);
      case "negated_command":
        return this.sequence(node, frame);
      case "function_definition": {
        const name = node.childForFieldName("name")?.text;
        if (name) this.functions.add(name);
        const body = node.childForFieldName("body");
        return body ? this.statement(body, loose()) : [];
      }
      case "for_statement": {
        const variable = node.childForFieldName("variable")?.text;
        if (variable) this.vars.set(variable, null);
        return this.sequence(node, loose());
      }
      case "comment":
        return [];
      default:
        if (STATEMENTS.has(node.type)) return this.sequence(node, loose());
        scanSubstitutions(node, this);
        return [];
    }
  }

  private sequence(node: SyntaxNode, frame: Frame): ShellCommand[] {
    if (node.type === "ERROR" || node.hasError) this.firstError ??= describeError(node, node.text);
    const out: ShellCommand[] = [];
    const children = node.children;
    for (let i = 0; i < children.length; i++) {
      const child = children[i];
      if (!child) continue;
      // Node properties are calls into wasm: read each once.
      const type = child.type;
      if (type === ";" || type === "&" || type === "comment" || !child.isNamed) continue;
      if (!STATEMENTS.has(type)) {
        scanSubstitutions(child, this);
        continue;
      }
      const background = children[i + 1]?.type === "&";
      out.push(...this.statement(child, background ? { ...frame, definite: false } : frame));
    }
    return out;
  }

  private pipeline(
    stages: SyntaxNode[],
    frame: Frame,
    head: ShellCommand[],
    tail: readonly SyntaxNode[] = [],
  ): ShellCommand[] {
    const all: ShellCommand[] = [...head];
    let stdin: Stdin = head.length > 0 ? stdinFrom(head, this) : frame.stdin;
    for (let i = 0; i < stages.length; i++) {
      const stage = stages[i] as SyntaxNode;
      const loose: Frame = { ...frame, definite: false, stdin };
      const ran =
        i === stages.length - 1 && tail.length > 0
          ? this.tail(stage, loose, tail)
          : this.statement(stage, loose);
      all.push(...ran);
      stdin = stdinFrom(ran, this);
    }
    if (all.length > 1) this.pipelines.push(all);
    return all;
  }

  private redirected(node: SyntaxNode, frame: Frame): ShellCommand[] {
    const body = node.childForFieldName("body");
    const nodes: SyntaxNode[] = [];
    const continuations: { kind: "pipe" | "list"; nodes: SyntaxNode[] }[] = [];
    for (const r of node.childrenForFieldName("redirect")) {
      if (!r) continue;
      nodes.push(r);
      // tree-sitter-bash hangs what follows a here-document's first line under its redirect.
      if (r.type === "heredoc_redirect") {
        const pipe = r.namedChildren.filter((c): c is SyntaxNode => c?.type === "pipeline");
        if (pipe.length > 0)
          continuations.push({
            kind: "pipe",
            nodes: pipe.flatMap((p) => p.namedChildren.filter((c): c is SyntaxNode => c !== null)),
          });
        const right = r.childForFieldName("right");
        if (right) continuations.push({ kind: "list", nodes: [right] });
      }
    }
    let ran = body ? this.tail(body, frame, nodes) : [];
    if (!body && nodes.length > 0)
      this.commands.push(redirectOnly(node.text, this.redirectsOf(nodes), this.dirs, frame.origin));
    for (const c of continuations) {
      if (c.kind === "pipe") ran = this.pipeline(c.nodes, frame, ran);
      else for (const n of c.nodes) ran.push(...this.statement(n, { ...frame, definite: false }));
    }
    return ran;
  }

  private redirectsOf(nodes: readonly SyntaxNode[]): ShellRedirect[] {
    return nodes.map((n) => redirectOf(n, this)).filter((r): r is ShellRedirect => r !== undefined);
  }

  /**
   * tree-sitter-bash hangs a redirection written after `a && b` or `a | b` on the whole list;
   * bash gives it to the last command only, and that is how it is analysed.
   */
  private tail(node: SyntaxNode, frame: Frame, redirects: readonly SyntaxNode[]): ShellCommand[] {
    if (node.type === "command") return this.command(node, frame, redirects);
    const children = node.namedChildren.filter((c): c is SyntaxNode => c !== null && c.type !== "comment");
    const last = children[children.length - 1];
    if (node.type === "list" && last) {
      const out: ShellCommand[] = [];
      children.slice(0, -1).forEach((child, i) => {
        out.push(
          ...this.statement(child, i === 0 ? frame : { ...frame, definite: false, stdin: { kind: "none" } }),
        );
      });
      return [...out, ...this.tail(last, { ...frame, definite: false }, redirects)];
    }
    if (node.type === "pipeline" && last) return this.pipeline(children, frame, [], redirects);
    // A compound statement: its redirections are opened before it runs.
    const evaluated = this.redirectsOf(redirects);
    const doc = evaluated.find((r) => r.content !== undefined);
    const stdin: Stdin = doc
      ? doc.contentDynamic
        ? { kind: "unknown" }
        : { kind: "literal", text: doc.content as string }
      : frame.stdin;
    if (evaluated.length > 0) this.commands.push(redirectOnly(node.text, evaluated, this.dirs, frame.origin));
    return this.statement(node, { ...frame, stdin });
  }

  private command(node: SyntaxNode, frame: Frame, extra: readonly SyntaxNode[]): ShellCommand[] {
    let stdin = frame.stdin;
    const outerSubs = this.subs;
    const subs: { kind: "command" | "process"; commands: ShellCommand[] }[] = [];
    this.subs = subs;
    const outerOdd = this.odd;
    this.odd = undefined;
    const assignments: { name: string; value: Field }[] = [];
    const argv: Field[] = [];
    const redirects: ShellRedirect[] = [];
    const base = node.startIndex;
    let end = base;
    const source = node.text;
    for (const child of node.children) {
      if (!child) continue;
      let glued = false;
      const start = child.startIndex;
      if (start - end > 1 || (start - end === 1 && source[end - base] !== " ")) {
        const gap = source.slice(end - base, start - base);
        if (/\S/.test(gap.replace(/\\\n/g, ""))) this.odd ??= "text the parser skipped";
        // tree-sitter-bash splits `r\<newline>m` in two; bash joins the halves into `rm`.
        glued = gap.startsWith("\\\n") && !/\s/.test(gap.slice(2)) && end > base;
      }
      end = child.endIndex;
      const type = child.type;
      if (type === "variable_assignment") {
        const name = this.assignedName(child, frame);
        assignments.push({ name, value: expandAssignmentValue(child.childForFieldName("value"), this) });
      } else if (type.endsWith("_redirect")) {
        const r = redirectOf(child, this);
        if (r) redirects.push(r);
      } else if (type !== "comment" && child.isNamed) {
        const words = type === "command_name" ? child.namedChildren : [child];
        for (const w of words) {
          if (!w) continue;
          const fields = expandWord(w, this);
          const last = argv[argv.length - 1];
          if (glued && last && fields[0]) argv[argv.length - 1] = joinFields(last, fields.shift() as Field);
          argv.push(...fields);
        }
      }
    }
    redirects.push(...this.redirectsOf(extra));
    for (const r of redirects) {
      if (r.content !== undefined)
        stdin = r.contentDynamic ? { kind: "unknown" } : { kind: "literal", text: r.content };
      else if ((r.op === "<" || r.op === "<&") && (r.fd === undefined || r.fd === 0))
        stdin = { kind: "unknown" };
    }
    this.subs = outerSubs;
    const odd = this.odd;
    this.odd = outerOdd;
    if (argv.length === 0) {
      const only = assignmentCommand(node.text, assignments, redirects, this.dirs, frame.origin, subs);
      this.commands.push(only);
      applyEffects(only, frame, this);
      return [only];
    }
    if (argv[0]?.text === "let") this.arithmetic(node, frame);
    const main = resolveCommand(
      argv,
      {
        assignments,
        redirects,
        text: node.text,
        origin: frame.origin,
        dirs: this.dirs,
        stdin,
        substitutions: subs,
        anomaly: odd,
      },
      this,
    );
    applyEffects(main, frame, this);
    return [main];
  }

  /** The name an assignment sets; what runs in an array subscript (`a[$(cmd)]=1`) is walked. */
  private assignedName(node: SyntaxNode, frame: Frame): string {
    const name = node.childForFieldName("name");
    if (name && name.type !== "variable_name") {
      scanSubstitutions(name, this);
      this.arithmetic(name, frame);
    }
    return name?.text ?? "";
  }

  /**
   * Bash evaluates arithmetic (`$((x))`, `(( ))`, `let`, `[[ x -eq y ]]`, indexed subscripts)
   * recursively: a variable whose value is text like `a[$(cmd)]` runs `cmd` there. When the
   * line has set a variable to text holding a command substitution, such a place is opaque.
   */
  private arithmetic(node: SyntaxNode, frame: Frame): void {
    for (const value of this.vars.values())
      if (value !== null && CODE_IN_TEXT.test(value)) {
        this.opaqueAt(
          node,
          frame,
          "arithmetic here evaluates a variable set to text with a command substitution",
        );
        return;
      }
  }

  /** `[[ ... ]]`: `-v 'a[$(cmd)]'` and arithmetic comparisons evaluate subscripts and values. */
  private testCommand(node: SyntaxNode, frame: Frame): void {
    if (/\s-(eq|ne|lt|le|gt|ge)\s/.test(node.text)) this.arithmetic(node, frame);
    const quoted = (n: SyntaxNode): boolean =>
      ((n.type === "raw_string" || n.type === "string") && SUBSCRIPT_CODE.test(n.text)) ||
      n.namedChildren.some(quoted);
    if (quoted(node))
      this.opaqueAt(node, frame, "[[ ]] evaluates an array subscript given as text, which can run commands");
  }

  /** Records that what `node` does cannot be judged from its text. */
  private opaqueAt(node: SyntaxNode, frame: Frame, reason: string): void {
    this.commands.push({ ...redirectOnly(node.text, [], this.dirs, frame.origin), opaque: { reason } });
  }

  private assignmentsOnly(node: SyntaxNode, frame: Frame): ShellCommand[] {
    const list = node.type === "variable_assignments" ? node.namedChildren : [node];
    const subs: { kind: "command" | "process"; commands: ShellCommand[] }[] = [];
    const outer = this.subs;
    this.subs = subs;
    const assignments = list
      .filter((c): c is SyntaxNode => c?.type === "variable_assignment")
      .map((c) => ({
        name: this.assignedName(c, frame),
        value: expandAssignmentValue(c.childForFieldName("value"), this),
      }));
    this.subs = outer;
    const only = assignmentCommand(node.text, assignments, [], this.dirs, frame.origin, subs);
    this.commands.push(only);
    applyEffects(only, frame, this);
    return [only];
  }

  private declaration(node: SyntaxNode, frame: Frame): ShellCommand[] {
    const keyword = node.children[0]?.text ?? "";
    const argv: Field[] = [{ match: keyword, text: keyword, known: true, glob: false, dynamic: false }];
    const assignments: { name: string; value: Field }[] = [];
    const subs: { kind: "command" | "process"; commands: ShellCommand[] }[] = [];
    const outer = this.subs;
    this.subs = subs;
    for (const child of node.namedChildren) {
      if (!child) continue;
      if (child.type === "variable_assignment") {
        const name = this.assignedName(child, frame);
        const value = expandAssignmentValue(child.childForFieldName("value"), this);
        assignments.push({ name, value });
        argv.push({ ...value, match: `${name}=${value.match}`, text: `${name}=${value.text}` });
      } else argv.push(...expandWord(child, this));
    }
    this.subs = outer;
    const main = resolveCommand(
      argv,
      {
        assignments: [],
        declared: assignments,
        redirects: [],
        text: node.text,
        origin: frame.origin,
        dirs: this.dirs,
        stdin: frame.stdin,
        substitutions: subs,
        anomaly: undefined,
      },
      this,
    );
    applyEffects(main, frame, this);
    for (const a of assignments) this.vars.set(a.name, frame.definite && a.value.known ? a.value.text : null);
    return [main];
  }
}
