/**
 * `taifeng mcp ls|call|prompt|serve`, and the MCP loading `taifeng run` shares. The SDK is
 * loaded only when MCP is used: a host without servers never imports it.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { isTaifengError } from "../errors.ts";
import type { McpServerEntry } from "../mcp/config.ts";
import type { McpManager } from "../mcp/manager.ts";
import { defenseCommandCheck } from "../permission/defense/check.ts";
import { homeOf } from "../permission/settings.ts";
import { resolveTrust } from "../permission/trust.ts";
import { BUILTIN_TOOL_NAMES, builtinTools } from "../tool/builtin/index.ts";
import { type CliIO, collect, EXIT, UsageError } from "./io.ts";

/** The MCP flags `taifeng run` and `taifeng mcp` share. */
export interface McpFlags {
  /** Extra `.mcp.json`-shaped files (`--mcp-config`, repeatable). */
  readonly mcpConfig?: readonly string[];
  /** Trust the project folder for this command (`--trust`): its `.mcp.json` servers load. */
  readonly trust?: boolean;
}

async function loadMcp(): Promise<{
  config: typeof import("../mcp/config.ts");
  manager: typeof import("../mcp/manager.ts");
}> {
  try {
    const [config, manager] = await Promise.all([import("../mcp/config.ts"), import("../mcp/manager.ts")]);
    return { config, manager };
  } catch (err) {
    if ((err as { code?: string }).code === "ERR_MODULE_NOT_FOUND")
      throw new UsageError(
        "MCP needs the official SDK: npm install @modelcontextprotocol/client @modelcontextprotocol/server",
      );
    throw err;
  }
}

/**
 * Opens the configured MCP servers (user `~/.taifeng/mcp.json`, `--mcp-config` files, and the
 * project's `.mcp.json` when the folder is trusted); undefined when none is configured. A
 * project file left out for lack of trust is mentioned on stderr. Bad configuration is a
 * usage error. `trusted` is the project-trust decision (`taifeng run` asks or reads the
 * remembered grant; `taifeng mcp` takes `--trust` or the remembered grant).
 */
export async function openMcp(
  flags: McpFlags,
  io: CliIO,
  trusted: boolean,
  projectRoot: string = io.cwd,
  /** Thread storage: MCP tasks calls started are recorded beside it (`mcp-tasks/`). */
  storageDir?: string,
  /**
   * Servers from the configuration file's `mcpServers` (already withheld there when the
   * project folder is not trusted); a name the MCP files already use keeps their entry.
   */
  fromConfig: readonly McpServerEntry[] = [],
): Promise<McpManager | undefined> {
  const { loadMcpConfig } = await import("../mcp/config.ts").catch(() => ({ loadMcpConfig: undefined }));
  if (!loadMcpConfig) return undefined;
  let config: Awaited<ReturnType<typeof loadMcpConfig>>;
  try {
    config = await loadMcpConfig({
      cwd: projectRoot,
      env: io.env as NodeJS.ProcessEnv,
      trusted,
      files: (flags.mcpConfig ?? []).map((f) => resolve(io.cwd, f)),
    });
  } catch (err) {
    if (isTaifengError(err, "invalid_config")) throw new UsageError(err.message);
    throw err;
  }
  if (config.skippedProjectFile)
    io.stderr.write(
      `taifeng: ${config.skippedProjectFile} was not loaded (MCP servers from a project start programs; the folder is not trusted: run taifeng run there to be asked, or pass --trust)\n`,
    );
  const taken = new Set(config.servers.map((s) => s.name));
  for (const entry of fromConfig)
    if (taken.has(entry.name))
      io.stderr.write(
        `taifeng: MCP server ${entry.name} of the configuration file is ignored: an MCP configuration file already declares it\n`,
      );
  const extra = fromConfig.filter((e) => !taken.has(e.name));
  if (extra.length > 0) config = { ...config, servers: [...config.servers, ...extra] };
  if (config.servers.length === 0) return undefined;
  const { manager } = await loadMcp();
  const taskLedger =
    storageDir === undefined
      ? undefined
      : (await import("../mcp/task-ledger.ts")).fileTaskLedger(resolve(io.cwd, storageDir, "mcp-tasks"));
  const mcp = await manager.McpManager.open({
    servers: config,
    env: io.env as NodeJS.ProcessEnv,
    ...(taskLedger ? { taskLedger } : {}),
  });
  for (const s of mcp.status())
    if (s.state.status === "failed")
      io.stderr.write(`taifeng: MCP server ${s.name} failed: ${s.state.error}\n`);
  return mcp;
}

/**
 * A prompt of the form `/mcp__<server>__<prompt> [args]` becomes that MCP prompt's text
 * (its arguments: `key=value` words, or the rest of the line as the first argument).
 */
export async function expandMcpPrompt(prompt: string, mcp: McpManager | undefined): Promise<string> {
  const match = /^\/mcp__([a-zA-Z0-9_-]+?)__(\S+)\s*([\s\S]*)$/.exec(prompt.trim());
  if (!match || !mcp) return prompt;
  const [, server, name, rest] = match as unknown as [string, string, string, string];
  const conn = mcp.servers.get(server);
  if (!conn) throw new UsageError(`no MCP server named "${server}"`);
  const prompts = await conn.listPrompts();
  const def = prompts.find((p) => p.name === name);
  if (!def)
    throw new UsageError(
      `MCP server "${server}" has no prompt "${name}" (it has: ${prompts.map((p) => p.name).join(", ")})`,
    );
  const args: Record<string, string> = {};
  const words = rest.trim() === "" ? [] : rest.trim().split(/\s+/);
  if (words.every((w) => w.includes("="))) {
    for (const w of words) args[w.slice(0, w.indexOf("="))] = w.slice(w.indexOf("=") + 1);
  } else if (def.arguments?.[0]) args[def.arguments[0].name] = rest.trim();
  const result = await conn.getPrompt(name, args);
  return result.messages
    .map((m) => (m.content.type === "text" ? m.content.text : `[${m.content.type}]`))
    .join("\n\n");
}

/** Registers `taifeng mcp ...`. */
export function registerMcpCommand(program: Command, io: CliIO, result: { code: number }): void {
  const mcp = program.command("mcp").description("MCP servers: list, call, prompt, login, serve");
  const shared = (cmd: Command) =>
    cmd
      .option("--mcp-config <file>", "an .mcp.json-shaped file to load (repeatable)", collect, [])
      .option("--trust", "trust the project folder for this command: its .mcp.json servers load");

  shared(mcp.command("ls").description("configured servers, their status and tools"))
    .option("--json", "print as JSON")
    .action(async (flags: McpFlags & { json?: boolean }) => {
      result.code = await withMcp(flags, io, async (m) => {
        const status = m.status();
        if (flags.json) io.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        else
          for (const s of status) {
            const extra =
              s.state.status === "ready"
                ? ` ${s.state.transport} ${s.state.protocolVersion ?? ""}`
                : s.state.status === "failed"
                  ? `: ${s.state.error.split("\n")[0]}`
                  : "";
            io.stdout.write(`${s.name} (${s.source.scope}) ${s.state.status}${extra}\n`);
            for (const t of s.tools) io.stdout.write(`  ${t}\n`);
          }
        return status.every((s) => s.state.status === "ready") ? EXIT.ok : EXIT.failed;
      });
    });

  shared(
    mcp
      .command("call")
      .description("call one tool of a server")
      .argument("<server>")
      .argument("<tool>")
      .argument("[json]", "arguments as a JSON object", "{}"),
  ).action(async (server: string, tool: string, json: string, flags: McpFlags) => {
    let args: unknown;
    try {
      args = JSON.parse(json);
    } catch {
      throw new UsageError(`arguments must be a JSON object, got ${json}`);
    }
    if (typeof args !== "object" || args === null || Array.isArray(args))
      throw new UsageError(`arguments must be a JSON object, got ${json}`);
    result.code = await withMcp(flags, io, async (m) => {
      if (!m.servers.has(server)) throw new UsageError(`no MCP server named "${server}"`);
      let res: Awaited<ReturnType<McpManager["call"]>>;
      // Ctrl-C cancels the call (a task-backed call cancels its task on the server).
      const ctrl = new AbortController();
      const off = io.onInterrupt(() => ctrl.abort(new Error("interrupted")));
      try {
        res = await m.call(server, tool, args as Record<string, unknown>, ctrl.signal, (task) =>
          io.stderr.write(
            `taifeng: task ${task.taskId} ${task.status}${task.statusMessage ? `: ${task.statusMessage}` : ""}\n`,
          ),
        );
      } catch (err) {
        if (ctrl.signal.aborted) return EXIT.interrupted;
        throw new UsageError(err instanceof Error ? err.message : String(err));
      } finally {
        off();
      }
      for (const block of res.content ?? [])
        io.stdout.write(block.type === "text" ? `${block.text}\n` : `${JSON.stringify(block)}\n`);
      if (res.structuredContent !== undefined && (res.content ?? []).length === 0)
        io.stdout.write(`${JSON.stringify(res.structuredContent)}\n`);
      return res.isError ? EXIT.failed : EXIT.ok;
    });
  });

  shared(
    mcp
      .command("prompt")
      .description("render one prompt of a server")
      .argument("<server>")
      .argument("<prompt>")
      .argument("[args...]", "key=value arguments"),
  ).action(async (server: string, name: string, words: string[], flags: McpFlags) => {
    result.code = await withMcp(flags, io, async (m) => {
      io.stdout.write(`${await expandMcpPrompt(`/mcp__${server}__${name} ${words.join(" ")}`, m)}\n`);
      return EXIT.ok;
    });
  });

  shared(
    mcp
      .command("login")
      .description("log in to an HTTP server configured with oauth (prints the URL to open)")
      .argument("<server>")
      .option("--timeout <seconds>", "how long to wait for the browser", "300"),
  ).action(async (server: string, flags: McpFlags & { timeout: string }) => {
    result.code = await withMcp(flags, io, async (m) => {
      const { mcpLogin } = await import("../mcp/login.ts");
      const done = await mcpLogin(m, server, {
        onAuthorizationUrl: (url) => {
          io.stderr.write(`Open this URL in a browser to log in to "${server}":\n${url.href}\n`);
        },
        timeoutMs: Number(flags.timeout) * 1000,
      });
      if (done.status === "failed") {
        io.stderr.write(`taifeng: login to "${server}" failed: ${done.error}\n`);
        return EXIT.failed;
      }
      io.stderr.write(
        done.status === "logged_in" ? `Logged in to "${server}".\n` : `"${server}" is already authorized.\n`,
      );
      return EXIT.ok;
    });
  });

  mcp
    .command("serve")
    .description("serve skills and chosen tools over MCP (stdio, or Streamable HTTP with --http)")
    .option("--http <port>", "serve Streamable HTTP on this port (0 = any free port)")
    .option("--host <host>", "interface to bind with --http", "127.0.0.1")
    .option("--token-env <name>", "require this environment variable's value as a bearer token")
    .option("--skills <dir>", "add a skills folder (repeatable)", collect, [])
    .option("--tools <names>", `built-in tools to expose, comma-separated (${BUILTIN_TOOL_NAMES.join(", ")})`)
    .option("-m, --model <provider:model>", "the model skills run on (default as for taifeng run)")
    .option("--allow <rule>", "allow rule (repeatable)", collect, [])
    .option("--deny <rule>", "deny rule (repeatable)", collect, [])
    .action(async (flags: ServeFlags) => {
      result.code = await serve(flags, io);
    });
}

/** Whether the user has trusted the current folder with its current files (no prompt). */
async function rememberedTrust(io: CliIO): Promise<boolean> {
  return resolveTrust("remembered", io.cwd, homeOf({ env: io.env }));
}

async function withMcp(
  flags: McpFlags,
  io: CliIO,
  body: (m: McpManager) => Promise<number>,
): Promise<number> {
  const m = await openMcp(flags, io, flags.trust === true || (await rememberedTrust(io)));
  if (!m) {
    io.stderr.write(
      "taifeng: no MCP servers configured (~/.taifeng/mcp.json, --mcp-config, or a trusted project's .mcp.json)\n",
    );
    return EXIT.failed;
  }
  try {
    return await body(m);
  } finally {
    await m.close();
  }
}

interface ServeFlags {
  readonly http?: string;
  readonly host: string;
  readonly tokenEnv?: string;
  readonly skills: string[];
  readonly tools?: string;
  readonly model?: string;
  readonly allow: string[];
  readonly deny: string[];
}

async function serve(flags: ServeFlags, io: CliIO): Promise<number> {
  const port = flags.http === undefined ? undefined : Number(flags.http);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
    throw new UsageError(`--http must be a port number, got "${flags.http}"`);
  const token = flags.tokenEnv === undefined ? undefined : io.env[flags.tokenEnv];
  if (flags.tokenEnv !== undefined && !token)
    throw new UsageError(`--token-env: ${flags.tokenEnv} is not set`);
  const names =
    flags.tools === undefined
      ? []
      : flags.tools
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
  const unknown = names.filter((n) => !(BUILTIN_TOOL_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0)
    throw new UsageError(
      `--tools: unknown tool ${unknown.join(", ")} (known: ${BUILTIN_TOOL_NAMES.join(", ")})`,
    );
  const [{ SkillRuntime }, { resolveRunModel }] = await Promise.all([
    import("../skill/runtime.ts"),
    import("./run-command.ts"),
  ]);
  const model = await resolveRunModel(flags.model, io);
  const skills = await SkillRuntime.open({
    dirs: flags.skills,
    cwd: io.cwd,
    ...(io.env.HOME ? { home: io.env.HOME } : {}),
  });
  const tools = builtinTools({ only: names });
  const engine = {
    model,
    cwd: io.cwd,
    permissions: {
      settings: { env: io.env },
      interactive: false,
      commandCheck: defenseCommandCheck,
      rules: { allow: flags.allow, deny: flags.deny },
    },
    hooks: { fromSettings: true },
  };
  const served = { engine, skills, tools: tools.tools };
  try {
    if (port === undefined) {
      const [{ createMcpServer }, { StdioServerTransport }] = await Promise.all([
        import("../mcp/server.ts"),
        import("@modelcontextprotocol/server/stdio"),
      ]);
      const server = createMcpServer(served);
      const transport = new StdioServerTransport(io.stdin as never, io.stdout as never);
      const closed = new Promise<void>((resolve) => {
        transport.onclose = () => resolve();
        io.stdin.once("end", () => resolve());
      });
      await server.connect(transport);
      await closed;
      await server.close();
      return EXIT.ok;
    }
    const { serveMcpHttp } = await import("../mcp/serve-http.ts");
    const http = await serveMcpHttp({ ...served, port, host: flags.host, ...(token ? { token } : {}) });
    io.stderr.write(`taifeng: MCP server listening on ${http.url}\n`);
    await new Promise<void>((resolve) => {
      const off = io.onInterrupt(() => {
        off();
        resolve();
      });
    });
    await http.close();
    return EXIT.ok;
  } finally {
    await tools.close();
    skills.close();
  }
}
