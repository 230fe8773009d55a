/**
 * Tools defined for other frameworks, used as they are: Vercel AI SDK `tool({ inputSchema,
 * execute })` objects and LangChain.js tools (`StructuredTool`, `tool()`), recognized by shape,
 * with no runtime dependency on either package.
 */
import { z } from "zod";
import { describeError, TaifengError } from "../errors.ts";
import type { JsonSchema, ParseResult, Tool, ToolContext } from "../tool/define.ts";

/** The shape of a Vercel AI SDK tool (v5 and later; `parameters` is the v4 name of `inputSchema`). */
export interface AiSdkToolLike {
  readonly description?: string;
  readonly inputSchema?: unknown;
  readonly parameters?: unknown;
  readonly execute?: (input: never, options: never) => unknown;
}

/** The shape of a LangChain.js tool: a name, a description, a schema and `invoke`. */
export interface LangChainToolLike {
  readonly name: string;
  readonly description: string;
  readonly schema: unknown;
  invoke(input: never, config?: never): Promise<unknown>;
}

/** Options of the adapters. */
export interface ForeignToolOptions {
  /**
   * Names of tools known to have no side effects: read-only and concurrency-safe. Default none:
   * a foreign tool says nothing about its effects, so it is treated as a write (asked for under
   * permissions, never started during the stream).
   */
  readonly readOnly?: readonly string[];
  readonly timeoutMs?: number;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === "object";

/** True for a Taifeng tool (made by `defineTool` or any other Tool implementation). */
export function isTool(value: unknown): value is Tool {
  return (
    isObj(value) &&
    typeof value.parse === "function" &&
    typeof value.execute === "function" &&
    "parameters" in value
  );
}

/** True for a LangChain.js tool. */
export function isLangChainTool(value: unknown): value is LangChainToolLike {
  return (
    isObj(value) &&
    typeof value.invoke === "function" &&
    typeof value.name === "string" &&
    typeof value.description === "string" &&
    "schema" in value
  );
}

/** True for a Vercel AI SDK tool. */
export function isAiSdkTool(value: unknown): value is AiSdkToolLike {
  return (
    isObj(value) &&
    typeof value.execute === "function" &&
    ("inputSchema" in value || "parameters" in value) &&
    !isTool(value)
  );
}

/** A JSON Schema from a zod 4 schema, an AI SDK `jsonSchema()`, a Standard JSON Schema or a plain JSON Schema. */
function jsonSchemaOf(schema: unknown, tool: string): JsonSchema {
  const bad = (why: string): never => {
    throw new TaifengError("invalid_tool", `tool "${tool}": its input schema ${why}`);
  };
  if (!isObj(schema)) return bad("is missing");
  let out: unknown;
  if ("jsonSchema" in schema && !("~standard" in schema)) out = schema.jsonSchema;
  else if ("_zod" in schema)
    out = z.toJSONSchema(schema as unknown as z.ZodType, { io: "input", target: "draft-2020-12" });
  else if (isObj(schema["~standard"])) {
    const std = schema["~standard"] as Json;
    const input = isObj(std.jsonSchema) ? (std.jsonSchema as Json).input : undefined;
    if (typeof input !== "function") bad(`(${String(std.vendor)}) cannot be converted to JSON Schema`);
    out = (input as (o: unknown) => unknown)({ target: "draft-2020-12" });
  } else if (schema.type === "object" || "properties" in schema) out = schema;
  else bad("is neither a zod schema, a Standard Schema nor a JSON Schema object");
  if (isObj(out) && typeof (out as { then?: unknown }).then === "function")
    bad("is asynchronous (give a JSON Schema)");
  if (!isObj(out) || (out.type !== undefined && out.type !== "object")) bad("must describe an object");
  const copy: JsonSchema = { ...(out as Json) };
  delete copy.$schema;
  if (copy.type === undefined) copy.type = "object";
  return copy;
}

/** Validates against the JSON Schema when zod can read it; else checks only that input is an object. */
function parserOf(name: string, schema: JsonSchema): (input: unknown) => ParseResult<unknown> {
  let validator: z.ZodType | undefined;
  try {
    validator = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    validator = undefined;
  }
  return (input) => {
    if (!isObj(input) || Array.isArray(input))
      return { ok: false, message: `Invalid input for tool ${name}: the arguments must be a JSON object.` };
    if (!validator) return { ok: true, value: input };
    const r = validator.safeParse(input);
    if (r.success) return { ok: true, value: input };
    const lines = r.error.issues.slice(0, 8).map((i) => `- ${i.path.join(".") || "(input)"}: ${i.message}`);
    return {
      ok: false,
      message: `Invalid input for tool ${name}:\n${lines.join("\n")}\nFix the arguments and call the tool again.`,
    };
  };
}

/** The framework's own validation (zod transforms and defaults apply), when the schema has one. */
async function ownValidation(schema: unknown, input: unknown): Promise<unknown> {
  if (!isObj(schema)) return input;
  const std = schema["~standard"];
  if (isObj(std) && typeof std.validate === "function") {
    const r = (await (std.validate as (v: unknown) => unknown)(input)) as {
      value?: unknown;
      issues?: { message: string }[];
    };
    if (r.issues) throw new Error(`invalid input: ${r.issues.map((i) => i.message).join("; ")}`);
    return r.value;
  }
  // An AI SDK schema (jsonSchema(...)) with a validator of its own.
  if ("jsonSchema" in schema && typeof schema.validate === "function") {
    const r = (await (schema.validate as (v: unknown) => unknown)(input)) as {
      success: boolean;
      value?: unknown;
      error?: unknown;
    };
    if (!r.success) throw new Error(`invalid input: ${describeError(r.error)}`);
    return r.value;
  }
  return input;
}

/** The last value of a streaming tool (an async iterable of preliminary results), or the value. */
async function finalValue(value: unknown): Promise<unknown> {
  if (
    isObj(value) &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function"
  ) {
    let last: unknown;
    for await (const v of value as unknown as AsyncIterable<unknown>) last = v;
    return last;
  }
  return value;
}

const adapted = new WeakMap<object, Tool>();

function build(
  name: string,
  description: string,
  schema: unknown,
  run: (input: unknown, ctx: ToolContext) => Promise<unknown>,
  options: ForeignToolOptions,
): Tool {
  const parameters = jsonSchemaOf(schema, name);
  const parse = parserOf(name, parameters);
  const readOnly = options.readOnly?.includes(name) ?? false;
  return {
    name,
    description,
    parameters,
    readOnly,
    concurrencySafe: readOnly,
    timeoutMs: options.timeoutMs,
    parse,
    execute: async (input, ctx) => run(await ownValidation(schema, input), ctx),
  };
}

/**
 * Vercel AI SDK tools (a `{ name: tool({...}) }` record, as `generateText` takes them) as
 * Taifeng tools. `execute` receives the validated input and `{ toolCallId, messages: [],
 * abortSignal }`; a streaming tool's last value is its output. Throws TaifengError
 * `invalid_tool` for a tool without `execute` or with an unusable schema.
 */
export function fromAiSdkTools(
  tools: Readonly<Record<string, unknown>>,
  options: ForeignToolOptions = {},
): Tool[] {
  return Object.entries(tools).map(([name, t]) => {
    if (!isAiSdkTool(t))
      throw new TaifengError(
        "invalid_tool",
        `AI SDK tool "${name}" has no execute function (client-side tools cannot run here)`,
      );
    const known = adapted.get(t);
    if (known && known.name === name) return known;
    const schema = t.inputSchema ?? t.parameters;
    const execute = t.execute as (input: unknown, o: unknown) => unknown;
    const tool = build(
      name,
      t.description ?? name,
      schema,
      async (input, ctx) =>
        finalValue(await execute(input, { toolCallId: ctx.callId, messages: [], abortSignal: ctx.signal })),
      options,
    );
    adapted.set(t, tool);
    return tool;
  });
}

/**
 * A LangChain.js tool as a Taifeng tool: `invoke(input, { signal })`; a returned message's
 * `content` is the output. Throws TaifengError `invalid_tool` for an unusable schema.
 */
export function fromLangChainTool(t: LangChainToolLike, options: ForeignToolOptions = {}): Tool {
  const known = adapted.get(t);
  if (known) return known;
  const invoke = t.invoke.bind(t) as (input: unknown, config: unknown) => Promise<unknown>;
  // LangChain validates with its own schema inside invoke; validating again here would run
  // zod transforms twice.
  const tool = build(
    t.name,
    t.description,
    jsonSchemaOf(t.schema, t.name),
    async (input, ctx) => {
      const out = await invoke(input, { signal: ctx.signal });
      return isObj(out) && "content" in out && "tool_call_id" in out ? out.content : out;
    },
    options,
  );
  adapted.set(t, tool);
  return tool;
}

/**
 * Whatever a host puts in `tools`: Taifeng tools pass through, LangChain tools are adapted, a
 * record of AI SDK tools is expanded. Throws TaifengError `invalid_tool` naming anything else.
 */
export function toTools(
  input: Iterable<unknown> | Readonly<Record<string, unknown>>,
  options: ForeignToolOptions = {},
): Tool[] {
  if (!(Symbol.iterator in Object(input))) return fromAiSdkTools(input as Record<string, unknown>, options);
  const out: Tool[] = [];
  let i = 0;
  for (const t of input as Iterable<unknown>) {
    if (isTool(t)) out.push(t);
    else if (isLangChainTool(t)) out.push(fromLangChainTool(t, options));
    else if (isAiSdkTool(t))
      throw new TaifengError(
        "invalid_tool",
        `tools[${i}] is an AI SDK tool without a name: pass AI SDK tools as a record ({ name: tool(...) }) to toTools`,
      );
    else
      throw new TaifengError(
        "invalid_tool",
        `tools[${i}] is not a tool (expected defineTool(...), a LangChain tool or an AI SDK tool record)`,
      );
    i++;
  }
  return out;
}
