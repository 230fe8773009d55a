/** `taifeng config show`, and the one place CLI commands read the configuration file. */
import type { Command } from "commander";
import { type LoadedConfig, loadConfig } from "../config/load.ts";
import type { TaifengConfig } from "../config/schema.ts";
import { configEntries, formatConfig } from "../config/show.ts";
import { isTaifengError } from "../errors.ts";
import { type CliIO, EXIT, UsageError } from "./io.ts";

/**
 * Loads the configuration for a command: user and project files, `--config FILE`, then the
 * command's flags (`overrides`). A bad file is a UsageError naming file, line and key.
 */
export function loadCliConfig(io: CliIO, file: string | undefined, overrides?: TaifengConfig): LoadedConfig {
  try {
    return loadConfig({
      cwd: io.cwd,
      env: io.env,
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
    .action((flags: { config?: string; json?: boolean }) => {
      const loaded = loadCliConfig(io, flags.config);
      const entries = configEntries(loaded, io.env);
      io.stdout.write(
        flags.json
          ? `${JSON.stringify({ files: loaded.files, entries }, null, 2)}\n`
          : formatConfig(entries, loaded.files),
      );
      result.code = EXIT.ok;
    });
}
