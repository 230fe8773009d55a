import { describeError } from "../../errors.ts";
import { subprocessEnv } from "../../sandbox/env.ts";
import { Sandbox } from "../../sandbox/sandbox.ts";
import type { ResourceLimits, SandboxLevel, SandboxNetwork } from "../../sandbox/types.ts";
import { LocalWorkspace } from "../../workspace/local.ts";
import { isWorkspaceError, type Workspace } from "../../workspace/types.ts";
import type { ArtifactStore } from "../artifacts.ts";
import type { ToolContext } from "../define.ts";
import { BackgroundTasks } from "./bash/tasks.ts";
import { FileTracker } from "./file-tracker.ts";
import { TodoStore } from "./todo_write/todos.ts";

/** The sandbox of the built-in tools (and of whatever else runs through `sandboxFor`). */
export interface BuiltinSandboxOptions {
  readonly level?: SandboxLevel;
  /** Network inside a level-1 sandbox: false (default), `{ allow: [domains] }`, or true (any domain, through the proxy). */
  readonly network?: SandboxNetwork;
  readonly limits?: ResourceLimits;
  /** Extra writable paths at level 1 (the workspace root is always writable). */
  readonly writable?: readonly string[];
  /** Extra paths hidden at level 1, beside the default secrets. */
  readonly hide?: readonly string[];
  /** Default-hidden paths shown at level 1 after all. */
  readonly reveal?: readonly string[];
  /** `error` (default) or `level0` when level 1 cannot run here. */
  readonly fallback?: "error" | "level0";
  /** Home directory whose secrets level 1 hides. Default `os.homedir()`. */
  readonly home?: string;
}

/** Options for `builtinTools`. Every field has a safe default. */
export interface BuiltinOptions {
  /**
   * The workspace every file tool uses: a Workspace, or a function choosing one per call.
   * Default: a LocalWorkspace rooted at the thread's working directory.
   */
  readonly workspace?: Workspace | ((ctx: ToolContext) => Workspace);
  /** How bash and background tasks are confined (default level 0, no limits). */
  readonly sandbox?: BuiltinSandboxOptions;
  /** Where truncated outputs are kept in full. Default: the engine's artifact store. */
  readonly artifacts?: ArtifactStore;
  /** Longest output sent to the model, in characters. Default 10,000 (DEFAULT_MAX_TOOL_OUTPUT_CHARS). */
  readonly maxOutputChars?: number;
  /** Refuse commands that command defense denies, even without a permission layer. Default true. */
  readonly commandDefense?: boolean;
  /**
   * Names of host environment variables commands may see, beside the allowlist every
   * subprocess gets (PATH, HOME, LANG, LC_*, TERM, TMPDIR, USER, SHELL; see `subprocessEnv`).
   * A trailing `*` matches a prefix. Default: none.
   */
  readonly envPassthrough?: readonly string[];
  /** Extra environment variables for commands (set as given, over everything else). */
  readonly env?: Readonly<Record<string, string>>;
  /** bash timeouts in ms. Defaults: 120000 default, 600000 max. */
  readonly bash?: { readonly defaultTimeoutMs?: number; readonly maxTimeoutMs?: number };
  /** Background tasks: most running per thread (default 8) and output kept per task (default 1 MiB). */
  readonly backgroundTasks?: { readonly maxPerThread?: number; readonly outputBytes?: number };
  /** http_request caps. Defaults: 1 MiB body, 30000 ms. */
  readonly http?: { readonly maxBytes?: number; readonly timeoutMs?: number };
  /** Only these tools (by name). Default: all. */
  readonly only?: readonly string[];
}

/** What the built-in tools share. Internal to the built-ins. */
export interface BuiltinEnv {
  readonly options: BuiltinOptions;
  readonly tracker: FileTracker;
  /** Set when the host gave one; otherwise tools use the engine's (`ctx.artifacts`). */
  readonly artifacts: ArtifactStore | undefined;
  readonly sandbox: (writableRoot: string | undefined) => Sandbox;
  /** Stops every sandbox's level-1 helper. */
  closeSandboxes(): void;
  readonly tasks: BackgroundTasks;
  readonly todos: TodoStore;
  /** Working directory of each thread's shell. */
  readonly shellCwd: Map<string, string>;
  workspace(ctx: ToolContext): Workspace;
  commandEnv(): Record<string, string>;
}

/** Variables that keep tools non-interactive and their output plain. */
const QUIET_ENV = {
  PAGER: "cat",
  GIT_PAGER: "cat",
  GIT_TERMINAL_PROMPT: "0",
  DEBIAN_FRONTEND: "noninteractive",
  NO_COLOR: "1",
  TERM: "dumb",
  TAIFENG: "1",
};

/** Builds the shared environment from options. */
export function createBuiltinEnv(options: BuiltinOptions): BuiltinEnv {
  const locals = new Map<string, LocalWorkspace>();
  const sandboxes = new Map<string, Sandbox>();
  const s = options.sandbox ?? {};
  const sandboxFor = (root: string | undefined): Sandbox => {
    const key = root ?? "";
    let sandbox = sandboxes.get(key);
    if (!sandbox) {
      sandbox = new Sandbox(
        {
          level: s.level ?? 0,
          network: s.network ?? false,
          writable: [...(root ? [root] : []), ...(s.writable ?? [])],
          ...(s.limits ? { limits: s.limits } : {}),
          ...(s.fallback ? { fallback: s.fallback } : {}),
          ...(s.hide ? { hide: [...s.hide] } : {}),
          ...(s.reveal ? { reveal: [...s.reveal] } : {}),
        },
        s.home !== undefined ? { home: s.home } : {},
      );
      sandboxes.set(key, sandbox);
    }
    return sandbox;
  };
  const env: BuiltinEnv = {
    options,
    tracker: new FileTracker(),
    artifacts: options.artifacts,
    sandbox: sandboxFor,
    closeSandboxes() {
      for (const sandbox of sandboxes.values()) sandbox.close();
      sandboxes.clear();
    },
    tasks: new BackgroundTasks({
      maxPerThread: options.backgroundTasks?.maxPerThread ?? 8,
      outputBytes: options.backgroundTasks?.outputBytes ?? 1024 * 1024,
    }),
    todos: new TodoStore(),
    shellCwd: new Map(),
    workspace(ctx) {
      const given = options.workspace;
      if (typeof given === "function") return given(ctx);
      if (given) return given;
      let ws = locals.get(ctx.cwd);
      if (!ws) {
        ws = new LocalWorkspace({ root: ctx.cwd });
        locals.set(ctx.cwd, ws);
      }
      return ws;
    },
    commandEnv() {
      return subprocessEnv({
        ...(options.envPassthrough ? { passthrough: options.envPassthrough } : {}),
        set: { ...QUIET_ENV, ...options.env },
      });
    },
  };
  return env;
}

/** A tool failure the model reads, as a result value. */
export function failure(message: string): { output: string; isError: true } {
  return { output: message, isError: true };
}

/** Turns workspace errors into model-readable failures; rethrows anything else. */
export function workspaceFailure(err: unknown): { output: string; isError: true } {
  if (isWorkspaceError(err)) return failure(err.message);
  return failure(describeError(err));
}
