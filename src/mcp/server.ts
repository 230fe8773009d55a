/**
 * Taifeng as an MCP server: skills become tools (each run by a real engine with the host's
 * model, permissions and store), chosen built-in tools are exposed under the same permission
 * settings, skill bodies are resources and skills are prompts.
 */
import {
  type CallToolResult,
  fromJsonSchema,
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import { describeError } from "../errors.ts";
import { SimClient } from "../llm/sim/sim-client.ts";
import type { EngineOptions } from "../loop/engine-options.ts";
import { stream } from "../loop/run.ts";
import type { Event, ToolOutput } from "../protocol/index.ts";
import type { SkillRuntime } from "../skill/runtime.ts";
import type { Skill } from "../skill/types.ts";
import type { Tool } from "../tool/define.ts";
import { McpTaskStore, routeTaskCalls, serveTasks, type TaskRunner } from "./serve-tasks.ts";

/** Options for `createMcpServer`. */
export interface McpServeOptions {
  /** The engine every skill run and tool call uses (model, permissions, store, cwd...). */
  readonly engine: EngineOptions;
  /** Skills to expose as tools, resources and prompts. */
  readonly skills?: SkillRuntime | undefined;
  /** Tools the operator exposes directly (e.g. `builtinTools({ only: ["read_file", "grep"] }).tools`). */
  readonly tools?: readonly Tool[] | undefined;
  /** The server's name and version as clients see them. Default `taifeng` / `0.1.0`. */
  readonly info?: { readonly name: string; readonly version: string } | undefined;
  /**
   * Where skill runs a client asked to run as tasks are kept (MCP tasks, 2025-11-25): share
   * one store between the server instances of a host (the HTTP handler does). Default: a
   * store of this server's own; `false` offers no tasks.
   */
  readonly tasks?: McpTaskStore | false | undefined;
}

const SKILL_TOOL = /[^a-zA-Z0-9_-]/g;

/**
 * A new SDK McpServer exposing the host's skills and tools; connect it to any transport
 * (`StdioServerTransport`, or `mcpHttpHandler` for HTTP, which makes one per request).
 * Nothing runs with more authority than the engine options grant: approvals cannot be
 * asked here, so calls that would ask are denied unless the rules allow them.
 */
export function createMcpServer(options: McpServeOptions): McpServer {
  // No `tools` here: McpServer then sets up its tools/call handler at the first registerTool,
  // after routeTaskCalls has hooked it (with `tools` it would do so in its constructor).
  const server = new McpServer(options.info ?? { name: "taifeng", version: "0.1.0" }, {
    capabilities: { resources: {}, prompts: {}, logging: {} },
  });
  const engine: EngineOptions = {
    ...options.engine,
    permissions: { ...options.engine.permissions, interactive: false },
  };
  const skills =
    options.skills?.registry.current.usable.filter((s) => !s.manifest.disableModelInvocation) ?? [];
  const runners = new Map<string, TaskRunner>();
  const store = options.tasks === false ? undefined : (options.tasks ?? new McpTaskStore());
  if (store) {
    routeTaskCalls(server, store, runners);
    const stop = serveTasks(server, store);
    const closed = server.server.onclose;
    server.server.onclose = () => {
      stop();
      if (!options.tasks) store.close();
      closed?.();
    };
  }
  for (const skill of skills) {
    const runner = registerSkill(server, skill, options.skills as SkillRuntime, engine, store !== undefined);
    if (store) runners.set(runner.name, runner.run);
  }
  for (const tool of options.tools ?? []) registerTool(server, tool, engine);
  if (skills.length === 0 && (options.tools ?? []).length === 0) {
    server.server.registerCapabilities({ tools: {} });
    server.server.setRequestHandler("tools/list", () => ({ tools: [] }));
  }
  return server;
}

function registerSkill(
  server: McpServer,
  skill: Skill,
  runtime: SkillRuntime,
  engine: EngineOptions,
  tasks: boolean,
): { name: string; run: TaskRunner } {
  const name = skill.name.replace(SKILL_TOOL, "_").slice(0, 64);
  const registered = server.registerTool(
    name,
    {
      title: skill.name,
      description: skill.manifest.description,
      inputSchema: z.object({ input: z.string().describe("What to ask of the skill, in plain words.") }),
    },
    async ({ input }, ctx) => {
      const token = ctx.mcpReq._meta?.progressToken;
      let step = 0;
      const progress = async (message: string) => {
        if (token === undefined) return;
        step++;
        await ctx.mcpReq
          .notify({
            method: "notifications/progress",
            params: { progressToken: token, progress: step, message },
          })
          .catch(() => undefined);
      };
      return runSkill(skill, runtime, engine, input, ctx.mcpReq.signal, progress);
    },
  );
  // Long skill runs may run as tasks (a client that asks gets a task handle at once).
  // registerTool takes no `execution`; the SDK lists the registered tool's field as given.
  if (tasks) registered.execution = { taskSupport: "optional" };
  const run: TaskRunner = (args) => {
    if (typeof args.input !== "string")
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Invalid arguments for tool ${name}: input must be a string`,
      );
    const input = args.input;
    return (signal, status) => runSkill(skill, runtime, engine, input, signal, async (line) => status(line));
  };
  server.registerResource(
    `skill-${name}`,
    `skill://${encodeURIComponent(skill.name)}/SKILL.md`,
    { title: skill.name, description: skill.manifest.description, mimeType: "text/markdown" },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: "text/markdown", text: skill.body }] }),
  );
  server.registerPrompt(
    name,
    {
      title: skill.name,
      description: skill.manifest.description,
      argsSchema: z.object({ input: z.string().optional().describe("What to use the skill for.") }),
    },
    ({ input }) => ({
      messages: [
        {
          role: "user" as const,
          content: {
            type: "text" as const,
            text: `Follow the skill "${skill.name}":\n\n${skill.body}${input ? `\n\nTask: ${input}` : ""}`,
          },
        },
      ],
    }),
  );
  return { name, run };
}

/** Runs a skill through a real engine; each step is reported through `progress`. */
async function runSkill(
  skill: Skill,
  runtime: SkillRuntime,
  engine: EngineOptions,
  input: string,
  signal: AbortSignal,
  progress: (line: string) => Promise<void>,
): Promise<CallToolResult> {
  try {
    const entry = await runtime.entryOptions(skill.name, engine);
    const run = stream(input, { ...engine, ...entry, signal });
    for await (const ev of run) {
      const line = progressLine(ev);
      if (line) await progress(line);
    }
    const result = await run.result;
    return { content: [{ type: "text" as const, text: result.text }] };
  } catch (err) {
    return {
      content: [{ type: "text" as const, text: `Skill ${skill.name} failed: ${describeError(err)}` }],
      isError: true,
    };
  }
}

function progressLine(ev: Event): string | undefined {
  switch (ev.msg.type) {
    case "model_call_started":
      return `step ${ev.msg.step}`;
    case "tool_call_started":
      return `running ${ev.msg.name}`;
    case "skill_started":
      return `skill ${ev.msg.name}`;
    default:
      return undefined;
  }
}

/**
 * Exposes one tool. Each call runs through a real engine (a scripted one-step turn), so the
 * permission rules, hooks and output cap apply exactly as in any other turn.
 */
function registerTool(server: McpServer, tool: Tool, engine: EngineOptions): void {
  server.registerTool(
    tool.name,
    {
      description: tool.description,
      inputSchema: fromJsonSchema(tool.parameters as Parameters<typeof fromJsonSchema>[0]),
      annotations: { readOnlyHint: tool.readOnly },
    },
    async (args, ctx) => {
      const model = new SimClient({
        script: [
          { toolCalls: [{ id: "call", name: tool.name, arguments: args as Record<string, unknown> }] },
          { text: "" },
        ],
      });
      let done: { output: ToolOutput; isError: boolean } | undefined;
      const run = stream("(a call over MCP)", {
        ...engine,
        model,
        tools: [tool],
        prepareTurn: undefined,
        signal: ctx.mcpReq.signal,
      });
      for await (const ev of run) {
        if (ev.msg.type === "tool_call_completed") done = { output: ev.msg.output, isError: ev.msg.isError };
      }
      await run.result.catch(() => undefined);
      if (!done)
        return { content: [{ type: "text" as const, text: `${tool.name} did not run` }], isError: true };
      const content =
        typeof done.output === "string"
          ? [{ type: "text" as const, text: done.output }]
          : done.output.map((p) =>
              p.type === "text"
                ? { type: "text" as const, text: p.text }
                : { type: "image" as const, data: p.data ?? "", mimeType: p.mediaType },
            );
      return { content, isError: done.isError };
    },
  );
}
