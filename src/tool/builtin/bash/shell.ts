import { assessCommand, describeAssessment } from "../../../permission/defense/assess.ts";

/**
 * The bash program that runs a model's command: the command arrives as `$1` (so no
 * quoting is needed), runs through `eval` (a syntax error is an ordinary failure), and the
 * final working directory is written to file descriptor 3 so the next call starts there.
 */
export const SHELL_PROGRAM = [
  "__taifeng_cmd=$1; shift",
  'eval "$__taifeng_cmd"',
  "__taifeng_status=$?",
  "pwd -P >&3 2>/dev/null",
  'exit "$__taifeng_status"',
].join("\n");

/** argv that runs `command` with SHELL_PROGRAM. */
export function shellArgv(command: string): string[] {
  return ["/bin/bash", "-c", SHELL_PROGRAM, "bash", command];
}

/** A refusal message when command defense denies `command` (run in `cwd`); undefined when it may run. */
export async function defenseRefusal(command: string, cwd: string): Promise<string | undefined> {
  const assessment = await assessCommand(command, { cwd });
  if (assessment.verdict !== "deny") return undefined;
  return `Command refused by command defense.\n${describeAssessment(assessment)}\nIf this was not what you meant, use a narrower command.`;
}
