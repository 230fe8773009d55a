import { assessCommand, describeAssessment } from "../permission/defense/assess.ts";
import { type CliIO, EXIT, readAll, UsageError } from "./io.ts";

/**
 * `taifeng defense check [COMMAND]`: runs command defense on a shell command (argument or
 * stdin) and prints the verdict with every finding. Exit code 0 when allowed, 1 when the
 * verdict is ask or deny.
 */
export async function defenseCheckCommand(
  commandArg: string | undefined,
  flags: { json?: boolean },
  io: CliIO,
): Promise<number> {
  let command = commandArg;
  if (command === undefined && io.stdin.isTTY !== true) command = await readAll(io.stdin);
  if (command === undefined || command.trim() === "")
    throw new UsageError("no command: pass it as an argument or on stdin");
  const assessment = await assessCommand(command, {
    cwd: io.cwd,
    ...(io.env.HOME ? { home: io.env.HOME } : {}),
  });
  io.stdout.write(
    flags.json ? `${JSON.stringify(assessment, null, 2)}\n` : `${describeAssessment(assessment)}\n`,
  );
  return assessment.verdict === "allow" ? EXIT.ok : EXIT.failed;
}
