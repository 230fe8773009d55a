import { createInterface } from "node:readline";
import { discoverSettings, homeOf } from "../permission/settings.ts";
import { inspectTrust, rememberTrust } from "../permission/trust.ts";
import type { SkillRegistry } from "../skill/registry.ts";
import type { CliIO } from "./io.ts";

/** How `taifeng run` decides about the project folder. */
export interface TrustDecisionInput {
  readonly io: CliIO;
  /** `--trust`: trust the folder for this run (nothing is recorded). */
  readonly flag: boolean;
  /** A person is at the terminal to answer the prompt. */
  readonly interactive: boolean;
  /** The loaded skills, to find the project's own skills that bundle scripts. */
  readonly registry: SkillRegistry;
}

/**
 * Decides whether the project's widening settings, hooks and skill scripts apply in this
 * run. Nothing to widen or run: trusted (nothing changes). A grant the user remembered for
 * these exact files, or `--trust`: trusted. Otherwise, at a terminal, the user is shown what
 * the folder asks for and answers; a yes is remembered per folder and content hash
 * (`~/.taifeng/trusted-folders.json`). Without a terminal: untrusted, and the engine's
 * warning says so once. Throws TaifengError `invalid_config` for a bad settings file.
 */
export async function decideProjectTrust(input: TrustDecisionInput): Promise<boolean> {
  const { io } = input;
  const found = await discoverSettings({ cwd: io.cwd, env: io.env, projectTrust: false });
  const scripts = input.registry.current.usable
    .filter((s) => s.source === "project" && s.files.some((f) => f.path.startsWith("scripts/")))
    .map((s) => s.name);
  const asks = [...found.trust.withheld];
  if (scripts.length > 0) asks.push(`scripts of the project's skills: ${scripts.join(", ")}`);
  if (asks.length === 0) return true;
  const home = homeOf({ env: io.env });
  const inspection = await inspectTrust(found.projectRoot, home);
  if (inspection.remembered || input.flag) return true;
  if (!input.interactive) return false;
  const why = inspection.changed ? "Its settings changed since you trusted it. " : "";
  io.stderr.write(
    `This folder (${found.projectRoot}) asks to widen permissions or run code:\n${asks.map((a) => `  - ${a}`).join("\n")}\n${why}Trust it? Only trust folders whose .taifeng/ files you have reviewed. [y/N]: `,
  );
  const answer = await readLine(io.stdin);
  if (!/^\s*y(es)?\s*$/i.test(answer ?? "")) {
    io.stderr.write("Not trusted: only the folder's deny and ask rules apply.\n");
    return false;
  }
  await rememberTrust(inspection, home);
  return true;
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
