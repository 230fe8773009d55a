/**
 * Checks the running Node.js before the rest of the package is evaluated (src/index.ts imports
 * it first). The package needs `node:sqlite` without a flag: Node 22.13 or newer, as
 * package.json's `engines` and bin/node-version.mjs say. An older Node gets one line saying
 * what is needed and how to get it, instead of an error about a missing builtin module.
 */
const NEED = [22, 13] as const;
const have = process.versions.node;
const [major = 0, minor = 0] = have.split(".").map(Number);
if (major < NEED[0] || (major === NEED[0] && minor < NEED[1])) {
  throw new Error(
    `taifeng needs Node.js ${NEED.join(".")} or newer (this is ${have}): install Node 24 LTS, e.g. \`nvm install 24\` or https://nodejs.org/en/download`,
  );
}
