/** The flags of `taifeng run`, checked and turned into what the engine takes. */
import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { describeError, isTaifengError } from "../errors.ts";
import { parseModelOptions } from "../llm/model-options.ts";
import { compileOutput, type OutputSpec } from "../loop/completion.ts";
import { isPermissionMode, PERMISSION_MODES, type PermissionMode } from "../permission/modes.ts";
import { type CliIO, readAll, UsageError } from "./io.ts";

/** Flags of `taifeng run`, as commander hands them over. */
export interface RunFlags {
  /** An extra configuration file (`--config`), above the project's. */
  readonly config?: string;
  readonly model?: string;
  /** `--model-option key=value` or a JSON object (repeatable). */
  readonly modelOption?: readonly string[];
  /** Passed to the provider SDK as its base URL. */
  readonly baseUrl?: string;
  /** Read the API key from this environment variable instead of the provider's default. */
  readonly apiKeyEnv?: string;
  readonly json?: boolean;
  readonly system?: string;
  readonly maxSteps?: string;
  /** `natural` (default) or `task_finish`. */
  readonly completion?: string;
  /** A JSON Schema file the final answer must match. */
  readonly outputSchema?: string;
  /** `true` (flag alone: deny), `deny` or `fail`. */
  readonly nonInteractive?: string | boolean;
  readonly sandbox?: string;
  /** Extra skills folders (`--skills`, repeatable). */
  readonly skills?: readonly string[];
  readonly storage?: string;
  readonly thread?: string;
  /** Permission mode for this run (overrides settings' defaultMode). */
  readonly permissionMode?: string;
  /** `false` with `--no-project-memory`: AGENTS.md / CLAUDE.md files are not loaded. */
  readonly projectMemory?: boolean;
  /** Trust the project folder for this run: its allow rules, mode, hooks, skill scripts and `.mcp.json` servers apply. */
  readonly trust?: boolean;
  /** Extra allow / deny rules, at command-line precedence. */
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
  /** Give the model the agent tools (spawn_agent, wait_agents, ...); on by itself when agent definitions exist. */
  readonly agents?: boolean;
  /** Extra `.mcp.json`-shaped files (`--mcp-config`). */
  readonly mcpConfig?: readonly string[];
  /** OpenTelemetry export configured by the OTEL_* variables (also on when they name an exporter). */
  readonly otel?: boolean;
  /** Record message content in spans (with OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental), redacted. */
  readonly otelContent?: boolean;
  /** Event sinks (see sinks-flags.ts). */
  readonly eventsJsonl?: string;
  readonly eventsConsole?: boolean;
  /** `inline` (default) or `bullmq` (submitted through the queue, run by `taifeng worker`). */
  readonly backend?: string;
  /** Tool names of a queued run's recipe (`--tools a,b`, repeatable). */
  readonly tools?: readonly string[];
}

/**
 * Who answers what the turn asks of a person: `terminal` (asked inline: stdin is a
 * terminal), `deny` (approvals denied and ask_user not offered, the model reads why) or
 * `fail` (the first request fails the turn).
 */
export type AskPolicy = "terminal" | "deny" | "fail";

/** Checked flags. */
export interface RunSettings {
  readonly maxSteps: number | undefined;
  readonly mode: PermissionMode | undefined;
  readonly sandbox: 0 | 1;
  readonly completion: "natural" | "task_finish";
  readonly output: OutputSpec | undefined;
  readonly modelOptions: Record<string, unknown> | undefined;
  readonly asking: AskPolicy;
}

function positiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return Number(value);
}

/** The prompt: the argument, else stdin with its trailing line break(s) removed. */
export async function readPrompt(arg: string | undefined, io: CliIO): Promise<string> {
  let prompt = arg;
  if (prompt === undefined && io.stdin.isTTY !== true)
    prompt = (await readAll(io.stdin)).replace(/(\r?\n)+$/, "");
  if (prompt === undefined || prompt.trim() === "") {
    throw new UsageError("no prompt: pass PROMPT as an argument or pipe it on stdin");
  }
  return prompt;
}

function readOutputSchema(file: string, io: CliIO): OutputSpec {
  const path = resolve(io.cwd, file);
  let schema: unknown;
  try {
    schema = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new UsageError(`--output-schema ${file}: ${describeError(err)}`);
  }
  if (schema === null || typeof schema !== "object" || Array.isArray(schema))
    throw new UsageError(`--output-schema ${file}: a JSON Schema must be a JSON object`);
  const spec: OutputSpec = {
    name:
      basename(path)
        .replace(/\.schema\.json$|\.json$/, "")
        .replace(/[^A-Za-z0-9_-]/g, "_") || "output",
    schema: schema as Record<string, unknown>,
  };
  try {
    compileOutput(spec);
  } catch (err) {
    throw new UsageError(`--output-schema ${file}: not a usable JSON Schema (${describeError(err)})`);
  }
  return spec;
}

/**
 * `--non-interactive [policy]` takes the next word when it is not an option, so
 * `run --non-interactive "fix it"` reads "fix it" as the policy. Checked before the prompt is
 * read so the user learns what happened instead of "no prompt". Throws UsageError.
 */
export function checkNonInteractive(value: string | boolean | undefined, promptGiven: boolean): void {
  if (value === undefined || value === true || value === "deny" || value === "fail") return;
  const hint = promptGiven
    ? ""
    : ` (it takes the word after it: put the prompt first, e.g. taifeng run "${String(value)}" --non-interactive, or write --non-interactive=deny)`;
  throw new UsageError(`--non-interactive must be deny or fail, got "${String(value)}"${hint}`);
}

/** Checks every flag that needs no I/O beyond reading the schema file. Throws UsageError. */
export function runSettings(flags: RunFlags, io: CliIO): RunSettings {
  const mode = flags.permissionMode;
  if (mode !== undefined && !isPermissionMode(mode)) {
    throw new UsageError(`--permission-mode must be one of ${PERMISSION_MODES.join(", ")}; got "${mode}"`);
  }
  const sandbox =
    flags.sandbox === undefined ? 0 : flags.sandbox === "0" ? 0 : flags.sandbox === "1" ? 1 : undefined;
  if (sandbox === undefined) throw new UsageError(`--sandbox must be 0 or 1, got "${flags.sandbox}"`);
  const completion = flags.completion ?? "natural";
  if (completion !== "natural" && completion !== "task_finish")
    throw new UsageError(`--completion must be natural or task_finish, got "${completion}"`);
  const ni = flags.nonInteractive;
  if (ni !== undefined && ni !== true && ni !== "deny" && ni !== "fail")
    throw new UsageError(`--non-interactive must be deny or fail, got "${String(ni)}"`);
  const asking: AskPolicy =
    ni === undefined ? (io.stdin.isTTY === true ? "terminal" : "deny") : ni === "fail" ? "fail" : "deny";
  let modelOptions: Record<string, unknown> | undefined;
  if (flags.modelOption && flags.modelOption.length > 0) {
    try {
      modelOptions = parseModelOptions(flags.modelOption);
    } catch (err) {
      throw new UsageError(isTaifengError(err) ? err.message : describeError(err));
    }
  }
  return {
    maxSteps: positiveInt("--max-steps", flags.maxSteps),
    mode: mode as PermissionMode | undefined,
    sandbox,
    completion,
    output: flags.outputSchema !== undefined ? readOutputSchema(flags.outputSchema, io) : undefined,
    modelOptions,
    asking,
  };
}
