import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { loadConfig } from "../config/load.ts";
import { isTaifengError } from "../errors.ts";
import { discoverSettings, homeOf } from "../permission/settings.ts";
import { inspectTrust, rememberTrust } from "../permission/trust.ts";
import type { SkillRegistry } from "../skill/registry.ts";
import { type CliIO, UsageError } from "./io.ts";

/** How `taifeng run` decides about the project folder. */
export interface TrustDecisionInput {
  readonly io: CliIO;
  /** `--trust`: trust the folder for this run (nothing is recorded). */
  readonly flag: boolean;
  /** A person is at the terminal to answer the prompt. */
  readonly interactive: boolean;
  /** The loaded skills, to find the project's own skills that bundle scripts. */
  readonly registry: SkillRegistry;
  /** A decision already made this run (`configTrust` asked first): reused, never asked twice. */
  readonly decided?: boolean | undefined;
}

/** The outcome of `decideProjectTrust`. */
export interface TrustDecision {
  /** The project's widening settings, hooks, skill scripts and `.mcp.json` servers apply. */
  readonly trusted: boolean;
  /** The project root the decision is about (where `.taifeng/` and `.mcp.json` are read). */
  readonly projectRoot: string;
}

/**
 * Decides whether the project's widening settings, hooks and skill scripts apply in this
 * run (MCP servers of the project's `.mcp.json` included). Nothing to widen or run: trusted (nothing changes). A grant the user remembered for
 * these exact files, or `--trust`: trusted. Otherwise, at a terminal, the user is shown what
 * the folder asks for and answers; a yes is remembered per folder and content hash
 * (`~/.taifeng/trusted-folders.json`). Without a terminal: untrusted, and the engine's
 * warning says so once. Throws TaifengError `invalid_config` for a bad settings file.
 */
export async function decideProjectTrust(input: TrustDecisionInput): Promise<TrustDecision> {
  const { io } = input;
  const found = await discoverSettings({ cwd: io.cwd, env: io.env, projectTrust: false });
  const projectRoot = found.projectRoot;
  const scripts = input.registry.current.usable
    .filter((s) => s.source === "project" && s.files.some((f) => f.path.startsWith("scripts/")))
    .map((s) => s.name);
  const asks = [...found.trust.withheld];
  if (scripts.length > 0) asks.push(`scripts of the project's skills: ${scripts.join(", ")}`);
  const servers = await projectMcpServers(projectRoot);
  if (servers !== undefined) asks.push(`MCP servers from .mcp.json (they start programs): ${servers}`);
  if (asks.length === 0) return { trusted: true, projectRoot };
  if (input.decided !== undefined) return { trusted: input.decided, projectRoot };
  const home = homeOf({ env: io.env });
  const inspection = await inspectTrust(projectRoot, home);
  if (inspection.remembered || input.flag) return { trusted: true, projectRoot };
  if (!input.interactive) return { trusted: false, projectRoot };
  const why = inspection.changed ? "Its settings changed since you trusted it. " : "";
  io.stderr.write(
    `This folder (${found.projectRoot}) asks to widen permissions or run code:\n${asks.map((a) => `  - ${a}`).join("\n")}\n${why}Trust it? Only trust folders whose .taifeng/ files you have reviewed. [y/N]: `,
  );
  const answer = await readLine(io.stdin);
  if (!/^\s*y(es)?\s*$/i.test(answer ?? "")) {
    io.stderr.write("Not trusted: only the folder's deny and ask rules apply.\n");
    return { trusted: false, projectRoot };
  }
  await rememberTrust(inspection, home);
  return { trusted: true, projectRoot };
}

/** The outcome of `configTrust`. */
export interface ConfigTrust {
  /** Load the project's configuration file with every key (`projectTrust: true`). */
  readonly trusted: boolean;
  /** A person was asked (or `--trust` decided): `decideProjectTrust` reuses the answer. */
  readonly decided: boolean | undefined;
}

/**
 * Decides, before the configuration is loaded, whether the project's `taifeng.config.*` may
 * apply in full (ADR 2051). Nothing withheld: no decision needed. `--trust` or a grant
 * remembered for these exact files (the grant's hash covers the configuration file): trusted.
 * At a terminal: the user is shown the withheld keys and asked, and a yes is remembered.
 * Otherwise untrusted, said once on stderr. Throws TaifengError `invalid_config` for a bad file.
 */
export async function configTrust(input: {
  readonly io: CliIO;
  readonly flag: boolean;
  readonly interactive: boolean;
  readonly file?: string | undefined;
}): Promise<ConfigTrust> {
  const { io } = input;
  if (input.flag) return { trusted: true, decided: true };
  let probe: ReturnType<typeof loadConfig>;
  try {
    probe = loadConfig({
      cwd: io.cwd,
      env: io.env,
      ...(input.file !== undefined ? { file: input.file } : {}),
    });
  } catch (err) {
    if (isTaifengError(err, "invalid_config")) throw new UsageError(err.message);
    throw err;
  }
  if (probe.withheld.length === 0 || probe.projectFile === undefined)
    return { trusted: false, decided: undefined };
  const home = homeOf({ env: io.env });
  const inspection = await inspectTrust(io.cwd, home);
  if (inspection.remembered) return { trusted: true, decided: true };
  const keys = probe.withheld.join(", ");
  if (!input.interactive) {
    io.stderr.write(
      `taifeng: ${probe.projectFile} is in a folder you have not trusted: its ${keys} ${probe.withheld.length === 1 ? "is" : "are"} not applied (they could widen permissions, send your keys elsewhere or run programs). Review the file, then pass --trust or answer the prompt at a terminal.\n`,
    );
    return { trusted: false, decided: false };
  }
  const why = inspection.changed ? "Its files changed since you trusted it. " : "";
  io.stderr.write(
    `This folder (${io.cwd}) has a configuration file that asks to widen permissions, send your keys elsewhere or run programs:\n  - ${probe.projectFile}: ${keys}\n${why}Trust it? Only trust folders whose taifeng.config, .taifeng/ and .mcp.json files you have reviewed. [y/N]: `,
  );
  const answer = await readLine(io.stdin);
  if (!/^\s*y(es)?\s*$/i.test(answer ?? "")) {
    io.stderr.write(`Not trusted: ${keys} from ${probe.projectFile} do not apply.\n`);
    return { trusted: false, decided: false };
  }
  await rememberTrust(inspection, home);
  return { trusted: true, decided: true };
}

/**
 * The server names a project's `.mcp.json` declares (for the prompt), `"(unreadable)"` for a
 * file that does not parse, undefined when there is no file. The file itself is validated
 * later, when it is loaded.
 */
async function projectMcpServers(root: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(root, ".mcp.json"), "utf8");
  } catch {
    return undefined;
  }
  try {
    const servers = (JSON.parse(text) as { mcpServers?: Record<string, unknown> }).mcpServers;
    const names = servers && typeof servers === "object" ? Object.keys(servers) : [];
    return names.length > 0 ? names.join(", ") : "(none declared)";
  } catch {
    return "(unreadable)";
  }
}

/** One line from the terminal (undefined at end of input); the stream stays usable after. */
function readLine(stdin: NodeJS.ReadableStream): Promise<string | undefined> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: stdin, terminal: false });
    let done = false;
    rl.once("line", (line) => {
      done = true;
      rl.close();
      resolve(line);
    });
    rl.once("close", () => {
      if (!done) resolve(undefined);
    });
  });
}
