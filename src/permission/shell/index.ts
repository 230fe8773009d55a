/**
 * Shell analysis on one real parser (tree-sitter-bash): what a command line would run,
 * normalized the way bash would, for permission rules, command defense and hooks alike.
 */
export { analyzeShell, analyzeShellSync } from "./analyze.ts";
export { loadedShellParser, loadShellParser } from "./parser.ts";
export type {
  CommandOrigin,
  Dirs,
  Field,
  Opaque,
  ShellAnalysis,
  ShellCommand,
  ShellContext,
  ShellRedirect,
} from "./types.ts";
export { HOLE } from "./words.ts";
