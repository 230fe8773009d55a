import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { CliIO } from "../../src/cli/io.ts";
import { main } from "../../src/cli/program.ts";

let dir: string | undefined;
function storage(): string {
  dir ??= mkdtempSync(join(tmpdir(), "taifeng-cli-threads-"));
  return dir;
}

/** A CLI run's captured output. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI in-process with injected streams. `stdin` lines are written when the CLI
 * prints a prompt ending in `: ` or `> ` (as a person at a terminal would), or all at once
 * when `tty` is false.
 */
export async function runCli(
  argv: readonly string[],
  options: { cwd: string; env: Record<string, string | undefined>; tty?: boolean; stdin?: readonly string[] },
): Promise<CliRun> {
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean };
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  if (options.tty) stdin.isTTY = true;
  let out = "";
  let err = "";
  const answers = [...(options.stdin ?? [])];
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => {
    err += d.toString();
    if (options.tty && /(: |> )$/.test(err) && answers.length > 0) stdin.write(`${answers.shift()}\n`);
  });
  if (!options.tty) stdin.end(answers.map((a) => `${a}\n`).join(""));
  const io: CliIO = {
    stdin,
    stdout,
    stderr,
    // Threads never go to the user's ~/.taifeng/threads unless the test says where.
    env: { TAIFENG_STORAGE: storage(), ...options.env },
    cwd: options.cwd,
    onInterrupt: () => () => {},
  };
  const code = await main(argv, io);
  stdin.end();
  return { code, stdout: out, stderr: err };
}
