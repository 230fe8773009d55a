/** Join barriers over child agents: all or any of a set reaching a final status. */
import type { AgentNode } from "./node.ts";
import { isFinal } from "./types.ts";

/** `all`: every target finished; `any`: at least one did. */
export type WaitMode = "all" | "any";

/** How a wait ended. `closed`: the tree closed (the wait resumes with it after a reopen). */
export type WaitOutcome = {
  readonly kind: "met" | "timeout" | "closed";
  readonly targets: readonly AgentNode[];
};

/**
 * The open waits of a tree. `changed()` (called on every final status) re-checks them; a wait
 * is met, times out, or is cancelled by its signal (then the promise rejects).
 */
export class Barriers {
  private readonly open = new Set<() => void>();

  /** Number of open waits. */
  get size(): number {
    return this.open.size;
  }

  /** Re-checks every open wait. */
  changed(): void {
    for (const check of [...this.open]) check();
  }

  wait(
    targets: readonly AgentNode[],
    mode: WaitMode,
    timeoutMs: number,
    signal: AbortSignal,
    closed: () => boolean,
  ): Promise<WaitOutcome> {
    return new Promise<WaitOutcome>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (kind: WaitOutcome["kind"] | "aborted") => {
        this.open.delete(check);
        signal.removeEventListener("abort", onAbort);
        if (timer) clearTimeout(timer);
        if (kind === "aborted") reject(new Error("the wait was cancelled"));
        else resolve({ kind, targets });
      };
      const check = () => {
        const met =
          mode === "all" ? targets.every((t) => isFinal(t.status)) : targets.some((t) => isFinal(t.status));
        if (met) done("met");
        else if (closed()) done("closed");
      };
      const onAbort = () => done("aborted");
      if (signal.aborted) return done("aborted");
      signal.addEventListener("abort", onAbort, { once: true });
      this.open.add(check);
      if (timeoutMs > 0) timer = setTimeout(() => done("timeout"), timeoutMs);
      check();
    });
  }
}
