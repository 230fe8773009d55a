import { Command, CommanderError } from "commander";
import { describeError } from "../errors.ts";
import { type CliIO, collect, EXIT, UsageError } from "./io.ts";

const VERSION = "0.1.0";

type Register = (program: Command, io: CliIO, result: { code: number }) => void;

/**
 * Command groups defined in their own modules. Each is imported only when the command line
 * names it (or when every command is needed: help, an unknown command), so `taifeng run` does
 * not load MCP, skills or thread tooling, and `--version` loads none of them.
 */
const GROUPS: Readonly<Record<string, () => Promise<Register>>> = {
  skills: async () => (await import("./skills-command.ts")).registerSkillsCommand,
  mcp: async () => (await import("./mcp-command.ts")).registerMcpCommand,
  worker: async () => (await import("./worker-command.ts")).registerWorkerCommand,
  threads: async () => {
    const { registerThreadsCommand } = await import("./threads-command.ts");
    return (program, io) => registerThreadsCommand(program, io);
  },
  config: async () => (await import("./config-command.ts")).registerConfigCommand,
  serve: async () => (await import("./serve-command.ts")).registerServeCommand,
  chat: async () => (await import("./chat-command.ts")).registerChatCommand,
  agents: async () => (await import("./agents-command.ts")).registerAgentsCommand,
};
const INLINE = new Set(["run", "permissions", "defense"]);

/** The groups the command line needs: the one it names, none for inline commands, else all. */
async function groupsFor(argv: readonly string[]): Promise<Register[]> {
  const first = argv[0];
  if (first !== undefined && INLINE.has(first)) return [];
  const named = first === undefined ? undefined : GROUPS[first];
  if (named) return [await named()];
  if (first === "--version" || first === "-V") return [];
  return Promise.all(Object.values(GROUPS).map((load) => load()));
}

/** Builds the `taifeng` command tree. Actions store their exit code in `result.code`. */
function buildProgram(io: CliIO, result: { code: number }, groups: readonly Register[]): Command {
  const program = new Command("taifeng")
    .description("Taifeng: an embeddable agent runtime kernel")
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError("(run with --help for usage)");

  program
    .command("run")
    .description("run one prompt through the engine and stream the result")
    .argument("[prompt]", "the prompt; read from stdin when omitted")
    .option(
      "-m, --model <provider:model>",
      "model: openai|openai-chat|anthropic|google|deepseek:<model>, sim:<script.json>; a,b = fallback chain (default: a configured key's provider, else the built-in demo)",
    )
    .option(
      "-O, --model-option <key=value>",
      "provider option, e.g. thinking.budget_tokens=4000 or a JSON object (repeatable; see docs/guides/providers.md)",
      collect,
      [],
    )
    .option("--base-url <url>", "base URL passed to the provider SDK (OpenAI-compatible servers, proxies)")
    .option("--api-key-env <name>", "environment variable holding the API key")
    .option("--config <file>", "an extra configuration file, above the project's taifeng.config.{json,yaml}")
    .option("--json", "print every event as one JSON line on stdout")
    .option("-s, --system <text>", "system instructions")
    .option("--max-steps <n>", "most model calls in the turn")
    .option("--completion <mode>", "natural (the turn ends when the model stops) or task_finish")
    .option(
      "--output-schema <file>",
      "JSON Schema file the final answer must match; prints the validated JSON",
    )
    .option(
      "--non-interactive [policy]",
      "nobody answers approvals or questions: deny (default when stdin is not a terminal) or fail the turn",
    )
    .option(
      "--sandbox <level>",
      "sandbox level for bash: 0 (subprocess, default) or 1 (bubblewrap / sandbox-exec)",
    )
    .option(
      "--skills <dir>",
      "add a skills folder (repeatable; project and user skills are always searched)",
      collect,
      [],
    )
    .option("--storage <dir>", "thread storage directory (default $TAIFENG_STORAGE or ~/.taifeng/threads)")
    .option("--thread <id>", "continue this stored thread (a turn it left waiting is finished first)")
    .option("--permission-mode <mode>", "default, acceptEdits, plan, dontAsk or bypassPermissions")
    .option(
      "--trust",
      "trust the project folder for this run: its .taifeng/ allow rules, mode, hooks and skill scripts apply",
    )
    .option(
      "--agents",
      "let the model spawn child agents (spawn_agent, wait_agents, ...; on when .taifeng/agents/*.md exist); children show as a tree on stderr",
    )
    .option("--no-project-memory", "do not load AGENTS.md / CLAUDE.md project memory into the prompt")
    .option("--allow <rule>", "allow rule, e.g. 'Bash(npm test:*)' (repeatable)", collect, [])
    .option("--deny <rule>", "deny rule (repeatable)", collect, [])
    .option(
      "--otel",
      "export OpenTelemetry traces and metrics as the OTEL_* variables say (default OTLP http/protobuf to localhost:4318)",
    )
    .option(
      "--events-jsonl <dir>",
      "write every event (redacted) to <dir>/<thread>.events.jsonl, rotated by size",
    )
    .option("--events-console", "print one line per event (redacted) on stderr")
    .option(
      "--otel-content",
      "record prompts and answers in spans, redacted (needs OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental)",
    )
    .option(
      "--mcp-config <file>",
      "load MCP servers from this .mcp.json-shaped file (repeatable)",
      collect,
      [],
    )
    .option(
      "--backend <name>",
      "inline (this process runs the turn, default) or bullmq (a `taifeng worker` runs it; needs DATABASE_URL, REDIS_URL)",
    )
    .option(
      "--tools <names>",
      "with --backend bullmq: tool names of the recipe (comma-separated, repeatable)",
      collect,
      [],
    )
    .action(async (prompt: string | undefined, flags) => {
      const { runCommand } = await import("./run-command.ts");
      result.code = await runCommand(prompt, flags, io);
    });

  program
    .command("permissions")
    .description("inspect permission rules")
    .command("check")
    .description("decide one tool call with the evaluator the engine uses")
    .requiredOption(
      "--tool <name>",
      "rule name (Bash, Read, Edit, WebFetch, Network, Skill, mcp__...) or tool name",
    )
    .option("--input <json>", 'the call\'s input, e.g. \'{"command":"npm test"}\'')
    .option("--cwd <dir>", "working directory (settings are discovered from here)")
    .option("--mode <mode>", "permission mode")
    .option("--settings <file>", "extra settings file at command-line precedence (repeatable)", collect, [])
    .option("--trust", "judge as if the project folder were trusted (its allow rules, mode and hooks apply)")
    .option("--json", "print the decision as JSON")
    .action(async (flags) => {
      const { permissionsCheckCommand } = await import("./permissions-command.ts");
      result.code = await permissionsCheckCommand(flags, io);
    });

  program
    .command("defense")
    .description("command defense (the checks that run before permission rules for bash)")
    .command("check")
    .description("classify a shell command: allow, ask or deny, with categories and reasons")
    .argument("[command]", "the command; read from stdin when omitted")
    .option("--json", "print the assessment as JSON")
    .action(async (command: string | undefined, flags) => {
      const { defenseCheckCommand } = await import("./defense-command.ts");
      result.code = await defenseCheckCommand(command, flags, io);
    });
  for (const register of groups) register(program, io, result);
  return program;
}

/** Runs the CLI with the given arguments (without `node` and the script). Returns the exit code. */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const result = { code: EXIT.ok as number };
  try {
    const program = buildProgram(io, result, await groupsFor(argv));
    await program.parseAsync([...argv], { from: "user" });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === "commander.helpDisplayed" ||
        err.code === "commander.version" ||
        err.code === "commander.help"
      ) {
        return EXIT.ok;
      }
      return EXIT.usage;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`taifeng: ${err.message}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`taifeng: ${describeError(err)}\n`);
    return EXIT.failed;
  }
}
