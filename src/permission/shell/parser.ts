import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { Language, Parser, Node as TsNode } from "web-tree-sitter";

/**
 * The one shell parser: tree-sitter-bash running on web-tree-sitter (WebAssembly), chosen
 * on measurement (docs/decisions/0510-shell-analyzer.md). Loading compiles two wasm
 * modules, so it happens once per process, on first use; the `bash` tool starts it when it
 * is created, to keep that off a tool call's path.
 */
let loading: Promise<Parser> | undefined;
let ready: Parser | undefined;

/**
 * A line that takes the lexer and parser through most of what Bash lines hold. WebAssembly
 * functions are compiled on their first call, so the first parse paid 35-250 ms on the
 * shared VM; parsing this once while loading moves that off the first real analysis.
 */
const WARM_UP = [
  `cd "$HOME/x" && FOO=$(git rev-parse --short HEAD) npm test -- --grep '$x' | tee -a out.log 2>&1`,
  `echo $((1+2)) \${y:-z} {a,b}.txt *.ts ~/f $'\\n' >> log; x=<(ls) y=\`pwd\` z=$[1]`,
  "if [ -f a ]; then for i in 1 2; do case $i in 1) ;; *) ;; esac; done; fi",
  "f() { local v; while read -r l; do eval \"$l\"; done <<< 'a b' & wait; }",
  "cat <<-EOF | sh",
  "  $v",
  "EOF",
].join("\n");

/** Loads the parser (idempotent). Rejects only when the packages are missing or broken. */
export function loadShellParser(): Promise<Parser> {
  if (ready) return Promise.resolve(ready);
  loading ??= (async () => {
    const require = createRequire(import.meta.url);
    // The grammar (1.3 MB) is read while the runtime module loads and compiles.
    const grammar = readFile(require.resolve("tree-sitter-bash/tree-sitter-bash.wasm"));
    grammar.catch(() => {});
    const { Parser, Language } = await import("web-tree-sitter");
    await Parser.init();
    const bytes = await grammar;
    const language = await Language.load(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const parser = new Parser();
    parser.setLanguage(language);
    parser.parse(WARM_UP)?.delete();
    ready = parser;
    return parser;
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

/** The loaded parser, or undefined before `loadShellParser` has settled. */
export function loadedShellParser(): Parser | undefined {
  return ready;
}

/**
 * A syntax-tree node as the analysis reads it. Every property of a web-tree-sitter node is a
 * call into WebAssembly (and `text` re-reads the source through a callback); a walk reads
 * `type`, `text` and the children of most nodes several times. This view reads each once,
 * on first use, slices `text` from the source string, and derives `isNamed` from the node's
 * type id (what tree-sitter itself does), so an analysis makes about half the calls.
 * Valid only inside `withTree`.
 */
export class SyntaxNode {
  readonly #node: TsNode;
  readonly #tree: TreeView;
  #typeId = -1;
  #end = -1;
  #text: string | undefined;
  #children: SyntaxNode[] | undefined;
  #named: SyntaxNode[] | undefined;
  /** Offset of the node's first character in the parsed source (UTF-16 code units). */
  readonly startIndex: number;

  constructor(node: TsNode, tree: TreeView) {
    this.#node = node;
    this.#tree = tree;
    this.startIndex = node.startIndex;
  }

  get #id(): number {
    if (this.#typeId < 0) this.#typeId = this.#node.typeId;
    return this.#typeId;
  }

  /** The node's type, as web-tree-sitter names it (`"ERROR"` for an error node). */
  get type(): string {
    return this.#tree.typeName(this.#id);
  }

  get isNamed(): boolean {
    return this.#tree.isNamed(this.#id);
  }

  get endIndex(): number {
    if (this.#end < 0) this.#end = this.#node.endIndex;
    return this.#end;
  }

  get text(): string {
    this.#text ??= this.#tree.source.slice(this.startIndex, this.endIndex);
    return this.#text;
  }

  /** True when this node or one below it is an error or a missing node. */
  get hasError(): boolean {
    return this.#tree.anyError && this.#node.hasError;
  }

  get isMissing(): boolean {
    return this.#tree.anyError && this.#node.isMissing;
  }

  get children(): readonly SyntaxNode[] {
    if (!this.#children) {
      const raw = this.#node.children;
      const out = new Array<SyntaxNode>(raw.length);
      for (let i = 0; i < raw.length; i++) out[i] = new SyntaxNode(raw[i] as TsNode, this.#tree);
      this.#children = out;
    }
    return this.#children;
  }

  get namedChildren(): readonly SyntaxNode[] {
    if (!this.#named) {
      if (this.#children) this.#named = this.#children.filter((c) => c.isNamed);
      else {
        // Only the named ones: every node made costs an allocation on web-tree-sitter's side.
        const raw = this.#node.namedChildren;
        const out = new Array<SyntaxNode>(raw.length);
        for (let i = 0; i < raw.length; i++) out[i] = new SyntaxNode(raw[i] as TsNode, this.#tree);
        this.#named = out;
      }
    }
    return this.#named;
  }

  childForFieldName(name: string): SyntaxNode | null {
    const child = this.#node.childForFieldName(name);
    return child ? this.#own(child) : null;
  }

  childrenForFieldName(name: string): SyntaxNode[] {
    return this.#node.childrenForFieldName(name).map((c) => this.#own(c));
  }

  /** The view of one of this node's children (the same object `children` holds). */
  #own(child: TsNode): SyntaxNode {
    for (const c of this.children) if (c.#node.id === child.id) return c;
    return new SyntaxNode(child, this.#tree);
  }
}

/** What the nodes of one tree share: the source, and the language's type tables. */
class TreeView {
  readonly source: string;
  readonly anyError: boolean;
  readonly #tables: TypeTables;

  constructor(source: string, anyError: boolean, tables: TypeTables) {
    this.source = source;
    this.anyError = anyError;
    this.#tables = tables;
  }

  typeName(id: number): string {
    return this.#tables.names[id] || "ERROR";
  }

  isNamed(id: number): boolean {
    return this.#tables.named(id);
  }
}

/** A language's type names, and whether each type id is named (asked once per id). */
class TypeTables {
  readonly names: readonly string[];
  readonly #language: Language;
  readonly #named = new Map<number, boolean>();

  constructor(language: Language) {
    this.#language = language;
    this.names = language.types;
  }

  named(id: number): boolean {
    let v = this.#named.get(id);
    if (v === undefined) {
      v = this.#language.nodeTypeIsNamed(id);
      this.#named.set(id, v);
    }
    return v;
  }
}

const tables = new WeakMap<Language, TypeTables>();

/**
 * Parses `source` and hands the root to `use`, freeing the tree afterwards (trees live in
 * wasm memory, outside the garbage collector; nodes must not be kept past `use`). Returns
 * what `use` returns.
 */
export function withTree<T>(parser: Parser, source: string, use: (root: SyntaxNode) => T): T {
  const tree = parser.parse(source);
  if (!tree) throw new Error("tree-sitter returned no tree");
  try {
    const language = tree.language;
    let t = tables.get(language);
    if (!t) {
      t = new TypeTables(language);
      tables.set(language, t);
    }
    const root = tree.rootNode;
    return use(new SyntaxNode(root, new TreeView(source, root.hasError, t)));
  } finally {
    tree.delete();
  }
}
