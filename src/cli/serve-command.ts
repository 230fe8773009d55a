/** `taifeng serve`: the HTTP + SSE API and the web console on one engine pool. */
import type { Command } from "commander";
import type { TaifengConfig } from "../config/schema.ts";
import { isTaifengError } from "../errors.ts";
import { createServer, type TaifengServer } from "../server/server.ts";
import { loadCliConfig } from "./config-command.ts";
import { engineSetup } from "./engine-setup.ts";
import { type CliIO, EXIT, UsageError } from "./io.ts";
import { configTrust } from "./trust-prompt.ts";

interface ServeFlags {
  readonly config?: string;
  readonly host?: string;
  readonly port?: string;
  readonly storage?: string;
  readonly model?: string;
  readonly insecureLocal?: boolean;
  readonly trust?: boolean;
}

function overrides(flags: ServeFlags): TaifengConfig {
  const port = flags.port;
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) > 65535))
    throw new UsageError(`--port must be 0-65535, got "${port}"`);
  const server = {
    ...(flags.host !== undefined ? { host: flags.host } : {}),
    ...(port !== undefined ? { port: Number(port) } : {}),
  };
  return {
    ...(flags.model !== undefined ? { model: flags.model } : {}),
    ...(flags.storage !== undefined ? { storage: { dir: flags.storage } } : {}),
    ...(Object.keys(server).length > 0 ? { server } : {}),
  };
}

/**
 * Starts the server and runs until SIGINT or SIGTERM, then shuts down gracefully: no new
 * connections, running turns get `server.drainMs` to reach a durable point, streams end, the
 * pool and the store close. Exit 0 after a clean shutdown, 2 for bad configuration.
 */
export async function serveCommand(flags: ServeFlags, io: CliIO): Promise<number> {
  const early = await configTrust({ io, flag: flags.trust === true, interactive: false, file: flags.config });
  const loaded = loadCliConfig(io, flags.config, overrides(flags), early.trusted);
  const config = loaded.config;
  const s = config.server ?? {};
  const setup = await engineSetup(loaded, io, { trusted: early.trusted, interactive: true });
  let server: TaifengServer;
  try {
    server = await createServer({
      ...setup.options,
      storageDir: setup.storageDir,
      ...(config.storage?.durability !== undefined ? { durability: config.storage.durability } : {}),
      ...(config.limits?.maxEngines !== undefined ? { maxEngines: config.limits.maxEngines } : {}),
      ...(config.limits?.idleTimeoutMs !== undefined ? { idleTimeoutMs: config.limits.idleTimeoutMs } : {}),
      ...(s.host !== undefined ? { host: s.host } : {}),
      port: s.port ?? 4319,
      tokens: s.tokens ?? [],
      env: io.env,
      insecureLocal: flags.insecureLocal === true,
      ...(s.corsOrigins !== undefined ? { corsOrigins: s.corsOrigins } : {}),
      ...(s.maxBodyBytes !== undefined ? { maxBodyBytes: s.maxBodyBytes } : {}),
      ...(s.rateLimitPerMinute !== undefined ? { rateLimitPerMinute: s.rateLimitPerMinute } : {}),
      ...(s.drainMs !== undefined ? { drainMs: s.drainMs } : {}),
      ...(s.evictSuspendedMs !== undefined ? { evictSuspendedMs: s.evictSuspendedMs } : {}),
    });
  } catch (err) {
    await setup.close();
    if (isTaifengError(err, "invalid_config")) throw new UsageError(err.message);
    throw err;
  }
  let url: string;
  try {
    url = await server.listen();
  } catch (err) {
    await server.close();
    await setup.close();
    throw new UsageError(`cannot listen: ${(err as Error).message}`);
  }
  io.stderr.write(
    `taifeng: serving ${setup.modelSpec} on ${url} (API ${url}/v1, console ${url}/, threads in ${setup.storageDir})\n`,
  );
  await new Promise<void>((resolve) => {
    const remove = io.onInterrupt(() => done());
    const done = () => {
      remove();
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGTERM", done);
  });
  io.stderr.write("taifeng: shutting down (running turns get time to finish)\n");
  await server.close();
  await setup.close();
  io.stderr.write("taifeng: stopped\n");
  return EXIT.ok;
}

/** Registers `taifeng serve`. */
export function registerServeCommand(program: Command, io: CliIO, result: { code: number }): void {
  program
    .command("serve")
    .description("serve the HTTP + SSE API and the web console (127.0.0.1 by default)")
    .option("--config <file>", "an extra configuration file, above the project's")
    .option("--host <address>", "interface to bind (anything but loopback needs server.tokens)")
    .option("--port <n>", "TCP port (default 4319; 0 picks a free one)")
    .option("--storage <dir>", "thread storage directory (default $TAIFENG_STORAGE or ~/.taifeng/threads)")
    .option(
      "-m, --model <provider:model>",
      "model spec (default: configuration, else a configured key's provider, else the demo)",
    )
    .option("--insecure-local", "accept requests without a token (127.0.0.1 only)")
    .option("--trust", "trust the project folder: its allow rules, mode, hooks and skill scripts apply")
    .action(async (flags: ServeFlags) => {
      result.code = await serveCommand(flags, io);
    });
}
