/** `taifeng config show`, and the one place CLI commands read the configuration file. */
import type { Command } from "commander";
import { type LoadedConfig, loadConfig } from "../config/load.ts";
import type { TaifengConfig } from "../config/schema.ts";
import { configEntries, formatConfig } from "../config/show.ts";
import { isTaifengError } from "../errors.ts";
import { homeOf } from "../permission/settings.ts";
import { inspectTrust } from "../permission/trust.ts";
import { type CliIO, EXIT, UsageError } from "./io.ts";

/**
 * Loads the configuration for a command: user and project files, `--config FILE`, then the
 * command's flags (`overrides`). A bad file is a UsageError naming file, line and key.
 */
export function loadCliConfig(
  io: CliIO,
  file: string | undefined,
  overrides?: TaifengConfig,
  projectTrust = false,
): LoadedConfig {
  try {
    return loadConfig({
      cwd: io.cwd,
      env: io.env,
      projectTrust,
      ...(file !== undefined ? { file } : {}),
      ...(overrides ? { overrides } : {}),
    });
  } catch (err) {
    if (isTaifengError(err, "invalid_config")) throw new UsageError(err.message);
    throw err;
  }
}

/** Registers `taifeng config show`. */
export function registerConfigCommand(program: Command, io: CliIO, result: { code: number }): void {
  program
    .command("config")
    .description("the configuration file (taifeng.config.json or .yaml)")
    .command("show")
    .description("print the effective configuration: each value with its source, secrets masked")
    .option("--config <file>", "an extra configuration file, above the project's")
    .option("--json", "print the entries as JSON")
    .option("--trust", "show the project's file as a trusted folder would apply it")
    .action(async (flags: { config?: string; json?: boolean; trust?: boolean }) => {
      const trusted =
        flags.trust === true || (await inspectTrust(io.cwd, homeOf({ env: io.env }))).remembered;
      const loaded = loadCliConfig(io, flags.config, undefined, trusted);
      const entries = configEntries(loaded, io.env);
      const withheld = loaded.withheld;
      io.stdout.write(
        flags.json
          ? `${JSON.stringify({ files: loaded.files, entries, withheld }, null, 2)}\n`
          : formatConfig(entries, loaded.files) +
              (withheld.length > 0
                ? `# not applied: ${loaded.projectFile} is in a folder you have not trusted: ${withheld.join(", ")} (--trust, or trust the folder when taifeng run asks)\n`
                : ""),
      );
      result.code = EXIT.ok;
    });
}
