/** The process surface a CLI command uses; injected so commands run in tests without a process. */
export interface CliIO {
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Registers a SIGINT handler; returns a function that removes it. */
  onInterrupt(handler: () => void): () => void;
}

/** Exit codes shared by every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** A usage error: printed without a stack, exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Reads all of stdin as UTF-8. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/** True when color output is appropriate for the stream. */
export function wantsColor(stream: { isTTY?: boolean }, env: CliIO["env"]): boolean {
  return stream.isTTY === true && env.NO_COLOR === undefined && env.TERM !== "dumb";
}

/** Commander option collector: a repeatable option's values, in order. */
export function collect(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}
