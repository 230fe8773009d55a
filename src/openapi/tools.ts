/** One tool per OpenAPI operation. */
import { z } from "zod";
import { describeError, TaifengError } from "../errors.ts";
import type { JsonSchema, ParseResult, Tool, ToolContext } from "../tool/define.ts";
import { type Operation, parseSpec } from "./spec.ts";

/** Where a credential comes from: environment variable names only, never the secret itself. */
export type OpenApiAuth =
  | { readonly type: "bearer"; readonly env: string }
  | { readonly type: "api_key"; readonly in: "header" | "query"; readonly name: string; readonly env: string }
  | { readonly type: "basic"; readonly usernameEnv: string; readonly passwordEnv: string };

/** Options of `openApiTools`. */
export interface OpenApiToolsOptions {
  /** Where requests go. Default: the document's first server. */
  readonly baseUrl?: string;
  readonly auth?: OpenApiAuth;
  /** Operation ids to expose (or a predicate). Default: all. */
  readonly include?: readonly string[] | ((op: Operation) => boolean);
  /** Prefix of every tool name, e.g. `petstore_`. Default none. */
  readonly prefix?: string;
  /** Extra headers on every request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Environment for `auth`. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Longest response body kept, in characters (the engine's output cap applies after). Default 100,000. */
  readonly maxResponseChars?: number;
  /** Per-call time limit. Default 60 s. */
  readonly timeoutMs?: number;
  readonly fetch?: typeof globalThis.fetch;
}

/** What a tool made from an operation says about itself (hosts and permission UIs read it). */
export interface OpenApiToolInfo {
  readonly method: string;
  readonly path: string;
  /** `DELETE`: removes data. Hosts should ask before it runs even where other writes are allowed. */
  readonly destructive: boolean;
}

/** A tool generated from an operation. */
export type OpenApiTool = Tool<Record<string, unknown>> & { readonly openapi: OpenApiToolInfo };

const SAFE = new Set(["get", "head", "options"]);

/**
 * Tools from an OpenAPI 3.0 / 3.1 or Swagger 2.0 document (object, JSON or YAML text): one per
 * operation, named by `operationId`, with an input schema built from its path, query and header
 * parameters (by name) and its JSON body (`body`). `GET`/`HEAD`/`OPTIONS` are read-only and
 * concurrency-safe; other methods are neither, and `DELETE` is marked destructive. Credentials
 * are read from the named environment variables at each call. A non-2xx answer is an error
 * output with the status and body; bodies are cut at `maxResponseChars`. Throws TaifengError
 * `invalid_config` for an unusable document, no base URL, or an `include` naming an operation
 * that does not exist.
 */
export function openApiTools(
  spec: string | Record<string, unknown>,
  options: OpenApiToolsOptions = {},
): OpenApiTool[] {
  const parsed = parseSpec(spec);
  const baseUrl = options.baseUrl ?? parsed.servers[0];
  if (!baseUrl || !/^https?:\/\//.test(baseUrl))
    throw new TaifengError(
      "invalid_config",
      `OpenAPI tools for "${parsed.title}": give a baseUrl (the document names no absolute server URL)`,
    );
  const include = options.include;
  if (Array.isArray(include)) {
    const ids = new Set(parsed.operations.map((o) => o.id));
    const unknown = include.filter((id) => !ids.has(id));
    if (unknown.length > 0)
      throw new TaifengError(
        "invalid_config",
        `OpenAPI tools: include names unknown operation(s) ${unknown.join(", ")} (known: ${[...ids].join(", ")})`,
      );
  }
  const keep = (op: Operation) =>
    include === undefined
      ? true
      : typeof include === "function"
        ? include(op)
        : (include as readonly string[]).includes(op.id);
  return parsed.operations.filter(keep).map((op) => operationTool(op, baseUrl.replace(/\/+$/, ""), options));
}

function inputOf(op: Operation): { schema: JsonSchema; fields: Map<string, Operation["params"][number]> } {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  const fields = new Map<string, Operation["params"][number]>();
  for (const p of op.params) {
    const key = properties[p.name] === undefined && p.name !== "body" ? p.name : `${p.in}_${p.name}`;
    properties[key] = p.description ? { ...p.schema, description: p.description } : p.schema;
    fields.set(key, p);
    if (p.required) required.push(key);
  }
  if (op.body) {
    properties.body = op.body.schema;
    if (op.body.required) required.push("body");
  }
  return { schema: { type: "object", properties, ...(required.length > 0 ? { required } : {}) }, fields };
}

function validatorOf(schema: JsonSchema): ((input: unknown) => string | undefined) | undefined {
  try {
    const v = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    return (input) => {
      const r = v.safeParse(input);
      return r.success
        ? undefined
        : r.error.issues
            .slice(0, 8)
            .map((i) => `- ${i.path.join(".") || "(input)"}: ${i.message}`)
            .join("\n");
    };
  } catch {
    return undefined; // a schema zod cannot read: required fields are still checked
  }
}

function operationTool(op: Operation, baseUrl: string, options: OpenApiToolsOptions): OpenApiTool {
  const name = `${options.prefix ?? ""}${op.id}`.slice(0, 64);
  const { schema, fields } = inputOf(op);
  const required = (schema.required as string[] | undefined) ?? [];
  const validate = validatorOf(schema);
  const readOnly = SAFE.has(op.method);
  const destructive = op.method === "delete";
  const method = op.method.toUpperCase();
  return {
    name,
    description: `${destructive ? "[destructive] " : ""}${op.summary} (${method} ${op.path})`,
    parameters: schema,
    readOnly,
    concurrencySafe: readOnly,
    timeoutMs: options.timeoutMs ?? 60_000,
    openapi: { method, path: op.path, destructive },
    ...(destructive ? { destructive: true } : {}),
    parse(input: unknown): ParseResult<Record<string, unknown>> {
      if (input === null || typeof input !== "object" || Array.isArray(input))
        return { ok: false, message: `Invalid input for tool ${name}: the arguments must be a JSON object.` };
      const missing = required.filter((k) => (input as Record<string, unknown>)[k] === undefined);
      const problems =
        missing.length > 0 ? missing.map((k) => `- ${k}: required`).join("\n") : validate?.(input);
      if (problems)
        return {
          ok: false,
          message: `Invalid input for tool ${name}:\n${problems}\nFix the arguments and call the tool again.`,
        };
      return { ok: true, value: input as Record<string, unknown> };
    },
    execute: (input, ctx) => call(op, baseUrl, fields, input, ctx, options),
  };
}

function secret(env: Readonly<Record<string, string | undefined>>, name: string, tool: string): string {
  const v = env[name];
  if (v === undefined || v === "")
    throw new TaifengError(
      "invalid_config",
      `tool ${tool}: the environment variable ${name} (its credential) is not set`,
    );
  return v;
}

async function call(
  op: Operation,
  baseUrl: string,
  fields: Map<string, Operation["params"][number]>,
  input: Record<string, unknown>,
  ctx: ToolContext,
  options: OpenApiToolsOptions,
): Promise<{ output: string; isError: boolean }> {
  let path = op.path;
  const query = new URLSearchParams();
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  for (const [key, p] of fields) {
    const value = input[key];
    if (value === undefined) continue;
    const text = typeof value === "string" ? value : JSON.stringify(value);
    if (p.in === "path") path = path.replaceAll(`{${p.name}}`, encodeURIComponent(text));
    else if (p.in === "query") {
      if (Array.isArray(value)) for (const v of value) query.append(p.name, String(v));
      else query.set(p.name, text);
    } else headers[p.name.toLowerCase()] = text;
  }
  const auth = options.auth;
  const env = options.env ?? process.env;
  if (auth?.type === "bearer") headers.authorization = `Bearer ${secret(env, auth.env, op.id)}`;
  else if (auth?.type === "basic")
    headers.authorization = `Basic ${Buffer.from(`${secret(env, auth.usernameEnv, op.id)}:${secret(env, auth.passwordEnv, op.id)}`).toString("base64")}`;
  else if (auth?.type === "api_key") {
    const key = secret(env, auth.env, op.id);
    if (auth.in === "header") headers[auth.name.toLowerCase()] = key;
    else query.set(auth.name, key);
  }
  let body: string | undefined;
  if (op.body && input.body !== undefined) {
    body = JSON.stringify(input.body);
    headers["content-type"] = op.body.mediaType;
  }
  const qs = query.toString();
  const url = `${baseUrl}${path}${qs ? `?${qs}` : ""}`;
  const method = op.method.toUpperCase();
  let res: Response;
  try {
    res = await (options.fetch ?? globalThis.fetch)(url, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      signal: ctx.signal,
      redirect: "manual",
    });
  } catch (err) {
    return { output: `${method} ${op.path} failed: ${describeError(err)}`, isError: true };
  }
  const limit = options.maxResponseChars ?? 100_000;
  let text = method === "HEAD" ? "" : await res.text();
  if (text.length > limit)
    text = `${text.slice(0, limit)}\n[response cut at ${limit} of ${text.length} characters]`;
  const ok = res.status >= 200 && res.status < 300;
  return {
    output: ok
      ? text || `${res.status} ${res.statusText}`
      : `HTTP ${res.status} ${res.statusText}${text ? `\n${text}` : ""}`,
    isError: !ok,
  };
}
