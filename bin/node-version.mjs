// Checks the running Node.js before anything else is loaded. Plain JavaScript that old Node
// versions parse, so that they print one line saying what is needed instead of a stack trace
// (ERR_UNKNOWN_FILE_EXTENSION for .ts, ERR_UNKNOWN_BUILTIN_MODULE for node:sqlite).
//
import { pathToFileURL } from "node:url";

// Run directly (`node bin/node-version.mjs`) it checks for running from a checkout, as
// `npm test` and `npm run demo` do first.

/** Node needed to run the built package (node:sqlite without a flag). */
export const FOR_PACKAGE = [22, 13];
/** Node needed to run the TypeScript sources of a checkout (type stripping on by default). */
export const FOR_SOURCE = [22, 18];

function atLeast(version, [major, minor]) {
  const [a, b] = version.split(".").map(Number);
  return a > major || (a === major && b >= minor);
}

/**
 * Exits with one line on stderr when this Node is too old. `what` says what needs it:
 * "source" (a checkout) or "package" (the built package).
 */
export function requireNode(what) {
  const need = what === "source" ? FOR_SOURCE : FOR_PACKAGE;
  const have = process.versions.node;
  if (atLeast(have, need)) return;
  const running = what === "source" ? "to run from a checkout" : "";
  process.stderr.write(
    `taifeng needs Node.js ${need.join(".")} or newer${running ? ` ${running}` : ""} (this is ${have}): install Node 24 LTS, e.g. \`nvm install 24\` or https://nodejs.org/en/download\n`,
  );
  process.exit(1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) requireNode("source");
