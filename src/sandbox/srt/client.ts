import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { subprocessEnv } from "../env.ts";
import type { Level1Spec } from "./config.ts";
import type { HostReply, HostRequest } from "./host.ts";

/** The helper's entry file: the TypeScript source when running from source, else the build. */
const HOST_FILE = fileURLToPath(
  new URL(import.meta.url.endsWith(".ts") ? "./host.ts" : "./host.js", import.meta.url),
);

/**
 * What the helper runs: its own folder and the node_modules folder the runtime is loaded
 * from. Commands must not be able to change them (see Level1Spec.protect).
 */
function helperCode(): string[] {
  const paths = [dirname(HOST_FILE)];
  try {
    const entry = createRequire(import.meta.url).resolve("@anthropic-ai/sandbox-runtime");
    const at = entry.lastIndexOf(`${sep}node_modules${sep}`);
    if (at >= 0) paths.push(entry.slice(0, at + `${sep}node_modules`.length));
  } catch {
    // not installed: the helper will say so
  }
  return paths;
}

/**
 * The runtime's files that run inside the sandbox (its `vendor/` directory: the seccomp
 * helper), shown again over the private /tmp when the installation lives under /tmp.
 */
function runtimeFiles(): string[] {
  try {
    const entry = createRequire(import.meta.url).resolve("@anthropic-ai/sandbox-runtime");
    // .../sandbox-runtime/dist/index.js -> .../sandbox-runtime/vendor
    return [join(dirname(dirname(entry)), "vendor")];
  } catch {
    return [];
  }
}

/** How long the helper may take to start its proxies (a cold Node start on a busy machine). */
const START_TIMEOUT_MS = 30_000;

/** What a helper is started with; `root` undefined: no workspace (the helper's own directory). */
export type HelperSpec = Omit<Level1Spec, "runtimeDir" | "tmp" | "protect" | "runtimeFiles" | "root"> & {
  readonly root: string | undefined;
};

/** A wrapped command, ready to spawn; call `release` once it has exited. */
export interface Wrapped {
  readonly argv: string[];
  /**
   * True when `argv` execs straight into bubblewrap with `--die-with-parent` (no shell left
   * in between), so the command dies with this process without a lifeline watchdog.
   */
  readonly direct: boolean;
  release(): void;
}

/** Whether the helper runs, or why it does not. */
export type HelperStatus = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** One running helper process and the requests waiting for its replies. */
interface Helper {
  readonly child: ChildProcess;
  readonly runtimeDir: string;
  readonly pending: Map<number, (reply: HostReply) => void>;
  readonly ready: Promise<HelperStatus>;
  stderr: string;
}

/**
 * The engine's side of a level-1 helper process (see host.ts): started on first use, asked
 * to wrap each command, stopped by `close()` or when this process exits (the helper notices
 * the disconnect). It keeps this process alive only while a request is pending. A helper
 * that dies fails what was waiting on it, and the next request starts a new one.
 */
export class SandboxHelper {
  private readonly spec: HelperSpec;
  private helper: Helper | undefined;
  private nextId = 1;

  constructor(spec: HelperSpec) {
    this.spec = spec;
  }

  /** Starts the helper (once); resolves when its proxies are up, or with why they are not. */
  start(): Promise<HelperStatus> {
    this.helper ??= this.launch();
    return this.helper.ready;
  }

  private launch(): Helper {
    // The runtime puts its proxy sockets in os.tmpdir(): a directory of the helper's own.
    const runtimeDir = mkdtempSync(join(tmpdir(), "taifeng-sandbox-"));
    if (process.platform !== "linux") mkdirSync(join(runtimeDir, "tmp"));
    const child = spawn(process.execPath, [HOST_FILE], {
      // Never "/": the runtime scans its working directory at every wrap.
      cwd: this.spec.root ?? runtimeDir,
      env: subprocessEnv({ set: { TMPDIR: runtimeDir } }),
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      serialization: "json",
    });
    const pending = new Map<number, (reply: HostReply) => void>();
    let resolveReady: (status: HelperStatus) => void = () => {};
    const ready = new Promise<HelperStatus>((resolve) => {
      resolveReady = resolve;
    });
    const helper: Helper = { child, runtimeDir, pending, ready, stderr: "" };
    const timer = setTimeout(() => {
      resolveReady({ ok: false, reason: "the sandbox helper did not start within 30 s" });
      child.kill("SIGKILL");
    }, START_TIMEOUT_MS);
    pending.set(0, (reply) => {
      clearTimeout(timer);
      resolveReady(reply.type === "ready" ? { ok: true } : { ok: false, reason: replyMessage(reply) });
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      if (helper.stderr.length < 4000) helper.stderr += chunk.toString("utf8");
    });
    child.on("message", (raw) => {
      const reply = raw as HostReply;
      const id = reply.type === "ready" ? 0 : reply.type === "failed" ? (reply.id ?? 0) : reply.id;
      const waiter = pending.get(id);
      pending.delete(id);
      waiter?.(reply);
      this.idle(helper);
    });
    const gone = (message: string) => {
      clearTimeout(timer);
      if (this.helper === helper) this.helper = undefined;
      rmSync(runtimeDir, { recursive: true, force: true });
      const waiting = [...pending.values()];
      pending.clear();
      for (const waiter of waiting) waiter({ type: "failed", message });
    };
    child.on("error", (err) => gone(`cannot start the sandbox helper: ${err.message}`));
    child.on("exit", (code, signal) => {
      const detail = helper.stderr.trim();
      gone(`the sandbox helper exited (${signal ?? `code ${code}`})${detail ? `: ${detail}` : ""}`);
    });
    const spec: Level1Spec = {
      ...this.spec,
      root: this.spec.root ?? runtimeDir,
      runtimeDir,
      tmp: this.tmpFor(runtimeDir),
      protect: helperCode(),
      runtimeFiles: runtimeFiles(),
    };
    this.post(helper, { type: "init", spec });
    return helper;
  }

  /** Sends a request; false when the helper is gone. */
  private post(helper: Helper, request: HostRequest): boolean {
    if (!helper.child.connected) return false;
    if (request.type === "done") {
      helper.child.send(request);
      this.idle(helper);
      return true;
    }
    helper.child.ref();
    helper.child.channel?.ref();
    helper.child.send(request);
    return true;
  }

  private idle(helper: Helper): void {
    if (helper.pending.size > 0) return;
    helper.child.unref();
    helper.child.channel?.unref();
  }

  /** The commands' temp directory for a helper's runtime directory (see Level1Spec.tmp). */
  private tmpFor(runtimeDir: string): string {
    return process.platform === "linux" ? "/tmp" : join(runtimeDir, "tmp");
  }

  /**
   * The argv that runs `argv` in the sandbox (with the sandbox's temp directory as TMPDIR),
   * or why it cannot run. Starts the helper first if needed.
   */
  async wrap(argv: readonly string[]): Promise<Wrapped | { readonly error: string }> {
    const started = await this.start();
    const helper = this.helper;
    if (!started.ok || !helper) return { error: started.ok ? "the sandbox helper stopped" : started.reason };
    const command = sandboxCommandLine(argv, this.tmpFor(helper.runtimeDir));
    const id = this.nextId++;
    const reply = await new Promise<HostReply>((resolve) => {
      helper.pending.set(id, resolve);
      if (!this.post(helper, { type: "wrap", id, command })) {
        helper.pending.delete(id);
        resolve({ type: "failed", message: "the sandbox helper stopped" });
      }
    });
    if (reply.type !== "wrapped") return { error: replyMessage(reply) };
    const direct = process.platform === "linux" && bwrapInvocation(reply.command, this.spec.bwrapPath);
    return {
      argv: ["/bin/sh", "-c", direct ? `exec ${reply.command}` : reply.command],
      direct,
      release: () => void this.post(helper, { type: "done", id }),
    };
  }

  /** Stops the helper; it removes what it mounted, and its socket directory, as it exits. */
  close(): void {
    const helper = this.helper;
    this.helper = undefined;
    if (helper?.child.connected) helper.child.disconnect();
  }
}

/** Quotes one word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`;
}

/** The shell line that runs `argv` inside the level-1 sandbox, with `tmp` as TMPDIR. */
export function sandboxCommandLine(argv: readonly string[], tmp: string): string {
  return `export TMPDIR=${shellQuote(tmp)}; exec ${argv.map(shellQuote).join(" ")}`;
}

/**
 * True when a wrapped line is one simple command that runs bubblewrap with
 * `--die-with-parent`: the runtime renders `bwrap --new-session --die-with-parent ...`, or,
 * when that is too long for a command line, `/bin/sh -c 'exec 9<"$1" && shift && exec "$@"'
 * srt-args FILE bwrap --new-session --die-with-parent ...` (a shell that execs bubblewrap).
 * Anything else is run as before, behind the lifeline.
 */
export function bwrapInvocation(line: string, bwrapPath: string | undefined): boolean {
  const head = [bwrapPath ?? "bwrap", "/usr/bin/bwrap", "bwrap"].map(shellQuote);
  const direct = head.some((h) => line.startsWith(`${h} --new-session --die-with-parent `));
  const viaFile =
    /^\/bin\/sh -c \S+ srt-args /.test(line.replace(/'[^']*'/, "Q")) &&
    / --new-session --die-with-parent /.test(line);
  return direct || viaFile;
}

function replyMessage(reply: HostReply): string {
  return reply.type === "failed" ? reply.message : `unexpected reply ${reply.type}`;
}
