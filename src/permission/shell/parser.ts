import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { Parser, Node as SyntaxNode, Tree } from "web-tree-sitter";

export type { SyntaxNode, Tree };

/**
 * The one shell parser: tree-sitter-bash running on web-tree-sitter (WebAssembly), chosen
 * on measurement (docs/decisions/0510-shell-analyzer.md). Loading compiles two wasm
 * modules, so it happens once per process, on first use; the `bash` tool starts it when it
 * is created, to keep that off a tool call's path.
 */
let loading: Promise<Parser> | undefined;
let ready: Parser | undefined;

/** Loads the parser (idempotent). Rejects only when the packages are missing or broken. */
export function loadShellParser(): Promise<Parser> {
  if (ready) return Promise.resolve(ready);
  loading ??= (async () => {
    const require = createRequire(import.meta.url);
    const { Parser, Language } = await import("web-tree-sitter");
    await Parser.init();
    const bytes = await readFile(require.resolve("tree-sitter-bash/tree-sitter-bash.wasm"));
    const language = await Language.load(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const parser = new Parser();
    parser.setLanguage(language);
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
 * Parses `source` and hands the tree to `use`, freeing it afterwards (trees live in wasm
 * memory, outside the garbage collector). Returns what `use` returns.
 */
export function withTree<T>(parser: Parser, source: string, use: (root: SyntaxNode) => T): T {
  const tree = parser.parse(source);
  if (!tree) throw new Error("tree-sitter returned no tree");
  try {
    return use(tree.rootNode);
  } finally {
    tree.delete();
  }
}
