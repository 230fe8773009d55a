import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseTranscript } from "../../src/conversation/jsonl-reader.ts";
import { type ReplayedThread, replayRollout } from "../../src/conversation/replay.ts";
import { type ChildConfig, type ChildMessage, itemsHash } from "./child-protocol.ts";

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "agent-child.ts");

/** A running agent-child process and what it printed so far. */
export interface RunningChild {
  readonly process: ChildProcess;
  /** Complete stdout lines, parsed (a line cut by a kill is not included). */
  readonly messages: ChildMessage[];
  readonly stderr: () => string;
  /** Resolves with the first message of this type (rejects if the process exits first). */
  waitFor<T extends ChildMessage["type"]>(type: T): Promise<Extract<ChildMessage, { type: T }>>;
  /** Resolves with the exit code (or the signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
}

/**
 * Starts test/persistence/agent-child.ts. `shell` runs it through `sh -c` with that prefix
 * (e.g. `ulimit -f 64;`), for resource limits that need a real shell.
 */
export function startChild(config: ChildConfig, shell?: string): RunningChild {
  const args = [CHILD, JSON.stringify(config)];
  const child = shell
    ? spawn("sh", ["-c", `${shell} exec "$0" "$@"`, process.execPath, ...args], {
        stdio: ["ignore", "pipe", "pipe"],
      })
    : spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const messages: ChildMessage[] = [];
  const waiters: (() => void)[] = [];
  let pending = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk;
    let nl = pending.indexOf("\n");
    while (nl >= 0) {
      messages.push(JSON.parse(pending.slice(0, nl)) as ChildMessage);
      pending = pending.slice(nl + 1);
      nl = pending.indexOf("\n");
    }
    for (const w of waiters.splice(0)) w();
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on("close", (code, signal) => {
      resolve(code ?? signal ?? "unknown");
      for (const w of waiters.splice(0)) w();
    });
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    process: child,
    messages,
    stderr: () => err,
    exited,
    waitFor(type) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find((m) => m.type === type);
          if (found) return resolve(found as never);
          if (done)
            return reject(new Error(`child exited before "${type}": ${err || JSON.stringify(messages)}`));
          waiters.push(check);
        };
        check();
      });
    },
  };
}

/** Reads a transcript as a reader would right after a crash: torn tail ignored, never repaired. */
export function readAfterCrash(path: string): { replay: ReplayedThread; lines: number; tornBytes: number } {
  const parsed = parseTranscript(readFileSync(path), path);
  return { replay: replayRollout(parsed.lines), lines: parsed.lines.length, tornBytes: parsed.tornBytes };
}

/** The hash of one turn's items in a replayed thread, as agent-child computes it on ack. */
export function turnHash(replay: ReplayedThread, turnId: string): string | undefined {
  const index = replay.turns.findIndex((t) => t.turnId === turnId);
  if (index < 0) return undefined;
  const start = replay.turns[index]?.start as number;
  const end = replay.turns[index + 1]?.start ?? replay.items.length;
  return itemsHash(replay.items.slice(start, end));
}
