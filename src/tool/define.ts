import { z } from "zod";
import { describeError, TaifengError } from "../errors.ts";
import type { ToolSpec } from "../llm/types.ts";
import type { ToolOutput } from "../protocol/index.ts";
import type { ArtifactStore } from "./artifacts.ts";

/** What a running tool can see and use. */
export interface ToolContext {
  /** Aborted when the turn is interrupted or the tool's timeout fires. Pass it to every async call. */
  readonly signal: AbortSignal;
  readonly threadId: string;
  readonly turnId: string;
  readonly callId: string;
  /** The working directory of the thread. */
  readonly cwd: string;
  /**
   * The engine's artifact store: where tools keep full outputs the context only shows in
   * part (truncated outputs, trimmed history). Absent outside an engine.
   */
  readonly artifacts?: ArtifactStore | undefined;
  /** Reports progress; observers receive it as `tool_call_progress`. Never persisted. */
  progress(data: unknown): void;
  /**
   * Asks the user a question and waits for the answer (emits `user_input_requested`; the
   * answer arrives as a `user_input_answer` op). Absent when the engine has no one to ask.
   * Rejects when the call is cancelled.
   */
  readonly askUser?: ((question: string, options?: readonly string[]) => Promise<string>) | undefined;
  /**
   * Parks the call durably until `wake` resolves: records a `user_input_requested` with
   * `awaiting` (nobody answers it but `wake`) and makes the transcript durable, so that a
   * process restart resumes the turn by running this call again (a tool that parks must be
   * safe to run again: idempotent by `callId`). Counts as a pending request, so a graceful
   * shutdown keeps the turn open too. Resolves with `wake`'s value; rejects when the call is
   * cancelled (`wake`'s signal aborts then) or `wake` rejects. Absent outside an engine.
   */
  readonly park?: (<T>(reason: string, wake: (signal: AbortSignal) => Promise<T>) => Promise<T>) | undefined;
}

/**
 * How a tool presents itself to permission rules. `rule` is the rule name that governs it:
 * `Bash` (a shell command), `Read` or `Edit` (file paths), `WebFetch` (a URL), or any other
 * name. `field` is the input field holding the command, path or URL; `subjects` replaces it
 * for tools that touch several values or compute them (every one must pass).
 */
export interface ToolPermission {
  readonly rule: string;
  readonly field?: string;
  readonly subjects?: (input: unknown) => readonly string[];
}

/**
 * What `execute` may return: a string (the output), `{ output, isError }` for images or to
 * flag a failure the model should see, or any other JSON value (sent as JSON text).
 */
export type ToolResult = string | { readonly output: ToolOutput; readonly isError?: boolean } | unknown;

/** A JSON Schema object describing a tool's input. */
export type JsonSchema = Record<string, unknown>;

/** The result of checking a tool's input. */
export type ParseResult<I> =
  | { readonly ok: true; readonly value: I }
  | { readonly ok: false; readonly message: string };

/** A tool the engine can schedule. Build one with `defineTool`. */
export interface Tool<I = unknown> {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the input, as sent to the model. */
  readonly parameters: JsonSchema;
  /** Has no side effects; may run in plan mode and start while the model is still streaming. */
  readonly readOnly: boolean;
  /** May run at the same time as other concurrency-safe calls. */
  readonly concurrencySafe: boolean;
  /** Per-call time limit; the engine default applies when absent. */
  readonly timeoutMs: number | undefined;
  /** How permission rules see this tool (absent: rules match it by its own name). */
  readonly permission?: ToolPermission | undefined;
  /**
   * Running a call twice with the same `ctx.callId` has the effect of running it once (the
   * tool passes the call id to external systems as an idempotency key). A call a crash cut
   * off is then run again when the turn continues; otherwise it is answered "interrupted,
   * not retried". Default false.
   */
  readonly idempotent?: boolean | undefined;
  /**
   * Destroys data (an OpenAPI `DELETE`...): permission modes and broad allow rules never let
   * it run without asking; only an allow rule naming the tool does (ADR 2203). Default false.
   */
  readonly destructive?: boolean | undefined;
  /** Validates raw input; the message is written for the model. */
  parse(input: unknown): ParseResult<I>;
  execute(input: I, ctx: ToolContext): Promise<ToolResult> | ToolResult;
}

/** Options for `defineTool`. `schema` is a zod schema or a JSON Schema object. */
export interface ToolDefinition<S extends z.ZodType | JsonSchema> {
  readonly name: string;
  readonly description: string;
  readonly schema: S;
  readonly readOnly?: boolean;
  /** Defaults to `readOnly`. */
  readonly concurrencySafe?: boolean;
  readonly timeoutMs?: number;
  readonly permission?: ToolPermission;
  /** See Tool.idempotent. */
  readonly idempotent?: boolean;
  /** See Tool.destructive. */
  readonly destructive?: boolean;
  execute(input: InputOf<S>, ctx: ToolContext): Promise<ToolResult> | ToolResult;
}

/** The input type a schema describes (unknown for JSON Schema). */
export type InputOf<S> = S extends z.ZodType ? z.output<S> : Record<string, unknown>;

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * Defines a tool. Input is validated before `execute` runs; invalid input and thrown
 * errors become outputs the model can read (see the scheduler), so `execute` may throw.
 * Throws TaifengError `invalid_tool` for a bad name or an unusable schema.
 */
export function defineTool<S extends z.ZodType | JsonSchema>(def: ToolDefinition<S>): Tool<InputOf<S>> {
  if (!TOOL_NAME.test(def.name)) {
    throw new TaifengError("invalid_tool", `tool name "${def.name}" must match ${TOOL_NAME.source}`);
  }
  const isZod = typeof def.schema === "object" && def.schema !== null && "_zod" in def.schema;
  let validator: z.ZodType;
  let parameters: JsonSchema;
  try {
    if (isZod) {
      validator = def.schema as z.ZodType;
      parameters = z.toJSONSchema(validator, { io: "input", target: "draft-2020-12" }) as JsonSchema;
      delete parameters.$schema;
    } else {
      parameters = def.schema as JsonSchema;
      validator = z.fromJSONSchema(parameters as Parameters<typeof z.fromJSONSchema>[0]);
    }
  } catch (err) {
    throw new TaifengError(
      "invalid_tool",
      `tool "${def.name}" has an unusable schema: ${describeError(err)}`,
      {
        cause: err,
      },
    );
  }
  if (parameters.type !== "object") {
    throw new TaifengError("invalid_tool", `tool "${def.name}": the input schema must describe an object`);
  }
  const readOnly = def.readOnly ?? false;
  return {
    name: def.name,
    description: def.description,
    parameters,
    readOnly,
    concurrencySafe: def.concurrencySafe ?? readOnly,
    timeoutMs: def.timeoutMs,
    permission: def.permission,
    ...(def.idempotent ? { idempotent: true } : {}),
    ...(def.destructive ? { destructive: true } : {}),
    parse(input: unknown): ParseResult<InputOf<S>> {
      const result = validator.safeParse(input);
      if (result.success) return { ok: true, value: result.data as InputOf<S> };
      return { ok: false, message: formatIssues(def.name, result.error.issues) };
    },
    execute: def.execute,
  };
}

function formatIssues(tool: string, issues: readonly z.core.$ZodIssue[]): string {
  const lines = issues.slice(0, 8).map((issue) => {
    const path = issue.path.length === 0 ? "(input)" : issue.path.map(String).join(".");
    return `- ${path}: ${issue.message}`;
  });
  return `Invalid input for tool ${tool}:\n${lines.join("\n")}\nFix the arguments and call the tool again.`;
}

const specs = new WeakMap<Tool, ToolSpec>();

/** The spec the model sees. The same object for the same tool, so per-spec caches hit. */
export function toolSpec(tool: Tool): ToolSpec {
  let spec = specs.get(tool);
  if (!spec) {
    spec = { name: tool.name, description: tool.description, parameters: tool.parameters };
    specs.set(tool, spec);
  }
  return spec;
}

/**
 * An immutable set of tools keyed by name. Specs are sorted by name so the prompt prefix
 * does not depend on registration order. Throws TaifengError `invalid_tool` on duplicates.
 */
export class ToolSet {
  private readonly byName: ReadonlyMap<string, Tool>;
  /** Specs in deterministic (name) order. */
  readonly specs: readonly ToolSpec[];

  constructor(tools: Iterable<Tool>) {
    const map = new Map<string, Tool>();
    for (const tool of tools) {
      if (map.has(tool.name)) throw new TaifengError("invalid_tool", `two tools are named "${tool.name}"`);
      map.set(tool.name, tool);
    }
    this.byName = map;
    this.specs = [...map.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(toolSpec);
  }

  get(name: string): Tool | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.byName.size;
  }

  /** A new set with `extra` added (names must not collide). */
  with(extra: Iterable<Tool>): ToolSet {
    return new ToolSet([...this.byName.values(), ...extra]);
  }

  [Symbol.iterator](): IterableIterator<Tool> {
    return this.byName.values();
  }
}
