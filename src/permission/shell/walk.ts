import type { Parser } from "web-tree-sitter";
import { applyEffects, type Frame, staticOutput } from "./effects.ts";
import { type SyntaxNode, withTree } from "./parser.ts";
import { redirectOf } from "./redirects.ts";
import type { CommandOrigin, Dirs, ShellCommand, ShellContext, ShellRedirect } from "./types.ts";
import { type ResolveEnv, resolveCommand, type Stdin } from "./unwrap.ts";
import {
  assignmentCommand,
  describeError,
  joinFields,
  redirectOnly,
  STATEMENTS,
  stdinFrom,
} from "./walk-helpers.ts";
import { arithmetic, assignedName, assignmentsOnly, declaration, testCommand } from "./walk-parts.ts";
import { expandAssignmentValue, expandWord, type Field, scanSubstitutions, type WordScope } from "./words.ts";

const MAX_DEPTH = 6;
const NO_NODES: readonly SyntaxNode[] = [];
const NO_STDIN: Stdin = { kind: "none" };

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
  /** The substitutions of the command being built (internal to the walk). */
  subs: { kind: "command" | "process"; commands: ShellCommand[] }[] | undefined;
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
      arithmetic(this, node, this.frame);
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
        if (node.children[0]?.type === "((") arithmetic(this, node, frame);
        return this.sequence(node, frame);
      case "program":
      case "do_group":
      case "ERROR":
        return this.sequence(node, frame);
      case "c_style_for_statement":
        arithmetic(this, node, frame);
        return this.sequence(node, loose());
      case "test_command":
        testCommand(this, node, frame);
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
        return assignmentsOnly(this, node, frame);
      case "declaration_command":
      case "unset_command":
        return declaration(this, node, frame);
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
        const name = assignedName(this, child, frame);
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
    if (argv[0]?.text === "let") arithmetic(this, node, frame);
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
}
