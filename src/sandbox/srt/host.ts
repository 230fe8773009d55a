/**
 * The level-1 helper process: it holds `@anthropic-ai/sandbox-runtime`'s SandboxManager (a
 * per-process singleton, with its filtering proxies) for one workspace and wraps commands on
 * request. It runs with the workspace as its working directory because the runtime looks for
 * files to protect (`.git/hooks`, shell rc files...) below `process.cwd()`. It exits, after
 * removing what the runtime mounted, when the engine's process disconnects or dies.
 *
 * Protocol (Node IPC, one JSON message each way):
 *   engine -> host  { type: "init", spec }          host -> engine { type: "ready" } | { type: "failed", message }
 *   engine -> host  { type: "wrap", id, command }   host -> engine { type: "wrapped", id, command } | { type: "failed", id, message }
 *   engine -> host  { type: "done", id }            (the wrapped command has exited)
 */

import { existsSync, rmSync } from "node:fs";
import type { SandboxRuntimeConfig } from "@anthropic-ai/sandbox-runtime";
import { findEnvFiles, type Level1Spec, runtimeConfig } from "./config.ts";

/** Messages the engine sends to the helper. */
export type HostRequest =
  | { readonly type: "init"; readonly spec: Level1Spec }
  | { readonly type: "wrap"; readonly id: number; readonly command: string }
  | { readonly type: "done"; readonly id: number };

/** Messages the helper sends back. */
export type HostReply =
  | { readonly type: "ready" }
  | { readonly type: "wrapped"; readonly id: number; readonly command: string }
  | { readonly type: "failed"; readonly id?: number; readonly message: string };

function send(reply: HostReply): void {
  process.send?.(reply);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function main(): Promise<void> {
  const { SandboxManager } = await import("@anthropic-ai/sandbox-runtime");
  let spec: Level1Spec | undefined;
  let config: SandboxRuntimeConfig | undefined;
  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await SandboxManager.reset().catch(() => {});
    if (spec) rmSync(spec.runtimeDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on("disconnect", () => void close());
  process.on("SIGTERM", () => void close());

  const init = async (given: Level1Spec) => {
    spec = given;
    config = runtimeConfig(given);
    const deps = await SandboxManager.checkDependenciesAsync(config.ripgrep);
    if (deps.errors.length > 0) throw new Error(deps.errors.join("; "));
    // With `network: true` every host the proxy is asked about is allowed; a list is strict.
    const ask = given.network === true ? async () => true : undefined;
    await SandboxManager.initialize(config, ask);
    if (given.network === false && process.platform === "linux") {
      // With no network, the runtime still starts two socat relays inside every sandbox
      // (to its proxy, which refuses every host when none is allowed) and polls until they
      // listen. `true` in their place leaves the network namespace with nothing reaching
      // out of it at all. Only the relays inside take the path from the configuration at
      // each wrap; the host-side bridges were started above, with socat (ADR 1800).
      const noRelay = ["/usr/bin/true", "/bin/true"].find((p) => existsSync(p));
      if (noRelay) {
        config = { ...config, socatPath: noRelay };
        SandboxManager.updateConfig(config);
      }
    }
  };

  const wrap = async (command: string): Promise<string> => {
    if (!spec || !config) throw new Error("the sandbox helper was not initialized");
    // .env files are looked for at each command: one created since the last is hidden too.
    const envFiles = findEnvFiles({ home: spec.home, root: spec.root });
    const filesystem = {
      ...config.filesystem,
      denyRead: [
        ...config.filesystem.denyRead,
        ...envFiles.map((path) => ({ path, literal: true as const })),
      ],
    };
    return SandboxManager.wrapWithSandbox(command, "bash", { filesystem });
  };

  process.on("message", (raw) => {
    const msg = raw as HostRequest;
    switch (msg.type) {
      case "init":
        init(msg.spec).then(
          () => send({ type: "ready" }),
          (err) => send({ type: "failed", message: errorText(err) }),
        );
        return;
      case "wrap":
        wrap(msg.command).then(
          (command) => send({ type: "wrapped", id: msg.id, command }),
          (err) => send({ type: "failed", id: msg.id, message: errorText(err) }),
        );
        return;
      case "done":
        SandboxManager.cleanupAfterCommand();
        return;
      default:
        msg satisfies never;
    }
  });
}

await main();
