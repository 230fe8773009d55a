import type { Parser } from "web-tree-sitter";
import type { Frame } from "./effects.ts";
import { loadedShellParser, loadShellParser } from "./parser.ts";
import type { ShellAnalysis, ShellContext } from "./types.ts";
import { Walk } from "./walk.ts";

const MAX_LENGTH = 64 * 1024;

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
