/**
 * The stdio transport for MCP servers Taifeng starts itself. Unlike the SDK's, the child
 * leads its own process group (closing kills the whole group, so a server's own children
 * never outlive it), its environment is the allowlisted subprocess environment plus the
 * server's configured `env` (never the whole parent environment), and its stderr is kept
 * in a bounded log instead of being mixed into the host's terminal.
 */
import type { ChildProcess } from "node:child_process";
import type { JSONRPCMessage, Transport } from "@modelcontextprotocol/client";
import { deserializeMessage, serializeMessage } from "@modelcontextprotocol/client";
import { subprocessEnv } from "../sandbox/env.ts";
import { spawnGroup } from "../sandbox/lifeline.ts";

/**
 * The environment of a stdio server: the runtime's subprocess environment (the allowlist in
 * `src/sandbox/env.ts`, including the host's `TAIFENG_ENV_PASSTHROUGH` names) plus the server's
 * configured `env`, which wins.
 */
export function serverEnv(
  set: Readonly<Record<string, string>> | undefined,
  from: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  return subprocessEnv({ from, set });
}

const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** A bounded tail of a server's stderr, kept for error messages and `taifeng mcp ls`. */
export class StderrLog {
  private text = "";
  private readonly maxChars: number;
  constructor(maxChars = 16_384) {
    this.maxChars = maxChars;
  }
  append(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.maxChars) this.text = this.text.slice(this.text.length - this.maxChars);
  }
  /** The last `lines` lines. */
  tail(lines = 20): string {
    return this.text.trimEnd().split("\n").slice(-lines).join("\n");
  }
}

/** How to start a stdio server. */
export interface StdioParams {
  readonly command: string;
  readonly args?: readonly string[] | undefined;
  readonly env?: Readonly<Record<string, string>> | undefined;
  readonly cwd?: string | undefined;
  /** Receives the child's stderr. */
  readonly stderr?: StderrLog | undefined;
  /** Called for each stdout line that is not JSON-RPC (servers that print logs to stdout). */
  readonly onGarbage?: ((line: string) => void) | undefined;
  /** Grace period between SIGTERM and SIGKILL on close. Default 2,000 ms. */
  readonly killGraceMs?: number | undefined;
}

/**
 * A Transport over a child process's stdin/stdout. `close()` ends stdin, then sends SIGTERM
 * and later SIGKILL to the child's whole process group, and resolves once the child exited.
 */
export class ProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private child: ChildProcess | undefined;
  private pending: Buffer | undefined;
  private readonly params: StdioParams;
  private exited: Promise<void> | undefined;
  private closed = false;
  /** Exit code or signal once the child is gone. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(params: StdioParams) {
    this.params = params;
  }

  /** The child's process id (for tests and `mcp ls`). */
  get processId(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    if (this.child) throw new Error("ProcessTransport already started");
    return new Promise((resolveStart, reject) => {
      // Its own process group, with the watchdog that kills the group when this process dies
      // without cleanup (kill -9): a server never outlives the engine that started it.
      const child = spawnGroup(this.params.command, [...(this.params.args ?? [])], {
        env: serverEnv(this.params.env),
        cwd: this.params.cwd,
        stdio: ["pipe", "pipe", "pipe"],
        windowsHide: true,
      });
      this.child = child;
      this.exited = new Promise((done) => {
        child.once("exit", (code, signal) => {
          this.exit = { code, signal };
          done();
        });
      });
      child.once("error", (err) => {
        reject(err);
        this.onerror?.(err);
      });
      child.once("spawn", () => resolveStart());
      child.once("close", () => {
        this.child = undefined;
        if (!this.closed) {
          this.closed = true;
          this.onclose?.();
        }
      });
      child.stdin?.on("error", (err) => this.onerror?.(err));
      child.stdout?.on("data", (chunk: Buffer) => this.read(chunk));
      child.stdout?.on("error", (err) => this.onerror?.(err));
      child.stderr?.setEncoding("utf8");
      child.stderr?.on("data", (chunk: string) => this.params.stderr?.append(chunk));
    });
  }

  private read(chunk: Buffer): void {
    this.pending = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.drain();
  }

  /**
   * Delivers complete lines. After a notification the rest waits one microtask: the SDK
   * dispatches notifications a microtask late but responses at once, so a progress
   * notification and the response right behind it in one chunk would otherwise arrive
   * reversed (and the progress be dropped as belonging to no request).
   */
  private readonly drain = (): void => {
    let data = this.pending;
    if (!data) return;
    for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10)) {
      const line = data.toString("utf8", 0, nl).replace(/\r$/, "");
      data = data.subarray(nl + 1);
      if (line.trim() === "") continue;
      let message: JSONRPCMessage;
      try {
        message = deserializeMessage(line);
      } catch {
        // Servers that log to stdout: the line is dropped and kept for diagnosis.
        this.params.stderr?.append(`[stdout, not JSON-RPC] ${line.slice(0, 500)}\n`);
        this.params.onGarbage?.(line);
        continue;
      }
      this.onmessage?.(message);
      if (!("id" in message) && data.indexOf(10) !== -1) {
        this.pending = data;
        queueMicrotask(this.drain);
        return;
      }
    }
    if (data.length > MAX_LINE_BYTES) {
      this.pending = undefined;
      this.onerror?.(new Error(`the server sent a line longer than ${MAX_LINE_BYTES} bytes; it was dropped`));
      return;
    }
    this.pending = data.length > 0 ? data : undefined;
  };

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || stdin.destroyed) return Promise.reject(new Error("the server process is not running"));
    return new Promise((done, fail) => {
      const ok = stdin.write(serializeMessage(message), (err) => (err ? fail(err) : undefined));
      if (ok) done();
      else stdin.once("drain", () => done());
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    this.closed = true;
    if (child) {
      try {
        child.stdin?.end();
      } catch {
        // already gone
      }
      await killGroup(child, this.exited, this.params.killGraceMs ?? 2_000);
      child.stdout?.destroy();
      child.stderr?.destroy();
    }
    this.pending = undefined;
    this.child = undefined;
    this.onclose?.();
    this.onclose = undefined;
  }
}

async function killGroup(
  child: ChildProcess,
  exited: Promise<void> | undefined,
  graceMs: number,
): Promise<void> {
  const pid = child.pid;
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (pid !== undefined) process.kill(-pid, sig);
    } catch {
      // The group is already empty.
    }
  };
  const gone = exited ?? Promise.resolve();
  const wait = (ms: number) =>
    new Promise<boolean>((r) => {
      const t = setTimeout(() => r(false), ms);
      void gone.then(() => {
        clearTimeout(t);
        r(true);
      });
    });
  // Give a well-behaved server a moment to exit on stdin EOF, then the group gets SIGTERM.
  if (child.exitCode === null && child.signalCode === null && !(await wait(Math.min(200, graceMs)))) {
    signal("SIGTERM");
    if (!(await wait(graceMs))) {
      signal("SIGKILL");
      await gone;
    }
  }
  // The leader may be gone while its children linger in the group.
  signal("SIGKILL");
}
