/** Names the client and the workers agree on: queue, key prefix, channels, job ids. */
import { TaifengError } from "../../errors.ts";

/** A job's data: the thread to work on. */
export interface ThreadJob {
  readonly threadId: string;
  /** On `join` jobs: the parent's call whose child agents have all finished. */
  readonly join?: string;
}

export interface BackendNames {
  readonly queue: string;
  readonly prefix: string;
  /** Interrupts for whichever worker holds a thread. */
  readonly controlChannel: string;
  /** A thread's events, as workers emit them. */
  eventsChannel(threadId: string): string;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Checks and derives the names. Throws TaifengError `invalid_config` for a name with `:` or spaces. */
export function backendNames(queue = "taifeng", prefix = "taifeng"): BackendNames {
  for (const [what, value] of [
    ["queue", queue],
    ["prefix", prefix],
  ] as const) {
    if (!NAME.test(value))
      throw new TaifengError(
        "invalid_config",
        `invalid ${what} name ${JSON.stringify(value)}: use 1-64 letters, digits, "_" or "-"`,
      );
  }
  return {
    queue,
    prefix,
    controlChannel: `${prefix}:${queue}:control`,
    eventsChannel: (threadId) => `${prefix}:${queue}:events:${threadId}`,
  };
}

/**
 * The job id of a thread's n-th submission. Enqueuing the same submission twice is a no-op
 * (BullMQ keeps one job per id); ids cannot contain ":" in BullMQ, hence "__".
 */
export function jobId(threadId: string, n: number): string {
  return `${threadId}__${n}`;
}
