import { TaifengError } from "../../errors.ts";
import { taskFinishTool } from "../../loop/completion.ts";
import type { Sandbox } from "../../sandbox/sandbox.ts";
import type { Tool } from "../define.ts";
import { DEFAULT_MAX_TOOL_OUTPUT_CHARS, limitOutput, markOutputManaged } from "../output-limit.ts";
import { applyPatchTool } from "./apply_patch/index.ts";
import { askUserTool } from "./ask_user/index.ts";
import { bashTool } from "./bash/index.ts";
import type { BackgroundTasks } from "./bash/tasks.ts";
import { bashKillTool } from "./bash_kill/index.ts";
import { bashOutputTool } from "./bash_output/index.ts";
import { editFileTool } from "./edit_file/index.ts";
import { type BuiltinOptions, createBuiltinEnv } from "./env.ts";
import type { FileTracker } from "./file-tracker.ts";
import { grepTool } from "./grep/index.ts";
import { httpRequestTool } from "./http_request/index.ts";
import { listFilesTool } from "./list_files/index.ts";
import { readArtifactTool } from "./read_artifact/index.ts";
import { readFileTool } from "./read_file/index.ts";
import { todoWriteTool } from "./todo_write/index.ts";
import type { TodoStore } from "./todo_write/todos.ts";
import { writeFileTool } from "./write_file/index.ts";

/** Names of every built-in tool. */
export const BUILTIN_TOOL_NAMES = [
  "read_file",
  "write_file",
  "edit_file",
  "apply_patch",
  "list_files",
  "grep",
  "bash",
  "bash_output",
  "bash_kill",
  "http_request",
  "ask_user",
  "todo_write",
  "read_artifact",
  "task_finish",
] as const;

/** The built-in tool set and the state it owns. */
export interface BuiltinTools {
  readonly tools: Tool[];
  /** Background tasks (kill them with `close`). */
  readonly tasks: BackgroundTasks;
  /** Each thread's todo list (also recoverable from history with `latestTodos`). */
  readonly todos: TodoStore;
  /** Which files each thread has read (read-before-write). */
  readonly tracker: FileTracker;
  /**
   * The sandbox bash uses for a workspace root: pass it to `sandboxedScriptRunner({ sandbox })`
   * so skill scripts run under the same sandbox choice.
   */
  readonly sandboxFor: (root: string) => Sandbox;
  /** Kills every background task and stops the sandboxes' helpers. Call when the engines using these tools shut down. */
  close(): Promise<void>;
}

/** Tools whose output is never cut (they are short, or they read artifacts themselves). */
const UNLIMITED = new Set(["read_artifact", "ask_user", "todo_write", "task_finish", "read_file"]);

/**
 * Creates the built-in tools over one shared environment (workspace, read-before-write
 * tracker, sandbox, background tasks, artifacts). Outputs longer than `maxOutputChars` are
 * cut to head and tail with the full text saved as an artifact for `read_artifact`
 * (read_file pages by lines instead). Throws TaifengError `invalid_tool` for an unknown
 * name in `only`.
 */
export function builtinTools(options: BuiltinOptions = {}): BuiltinTools {
  const env = createBuiltinEnv(options);
  const all: Record<(typeof BUILTIN_TOOL_NAMES)[number], () => Tool> = {
    read_file: () => readFileTool(env) as Tool,
    write_file: () => writeFileTool(env) as Tool,
    edit_file: () => editFileTool(env) as Tool,
    apply_patch: () => applyPatchTool(env) as Tool,
    list_files: () => listFilesTool(env) as Tool,
    grep: () => grepTool(env) as Tool,
    bash: () => bashTool(env) as Tool,
    bash_output: () => bashOutputTool(env) as Tool,
    bash_kill: () => bashKillTool(env) as Tool,
    http_request: () => httpRequestTool(env) as Tool,
    ask_user: () => askUserTool() as Tool,
    todo_write: () => todoWriteTool(env) as Tool,
    read_artifact: () => readArtifactTool(env) as Tool,
    task_finish: () => taskFinishTool() as Tool,
  };
  const names = options.only ?? BUILTIN_TOOL_NAMES;
  const maxChars = options.maxOutputChars ?? DEFAULT_MAX_TOOL_OUTPUT_CHARS;
  const tools = names.map((name) => {
    const make = all[name as keyof typeof all];
    if (!make)
      throw new TaifengError(
        "invalid_tool",
        `unknown built-in tool "${name}"; known: ${BUILTIN_TOOL_NAMES.join(", ")}`,
      );
    const tool = make();
    return UNLIMITED.has(name)
      ? markOutputManaged(tool)
      : limitOutput(tool, { maxChars, store: env.artifacts });
  });
  return {
    tools,
    tasks: env.tasks,
    todos: env.todos,
    tracker: env.tracker,
    sandboxFor: (root) => env.sandbox(root),
    close: async () => {
      await env.tasks.dispose();
      env.closeSandboxes();
    },
  };
}
