// Copies non-TypeScript runtime assets (tool descriptions, built-in scripts) from src/ to dist/.
import { cpSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ASSET = /\.(md|json|txt)$/;
// The web console ships as plain files beside the server module.
const CONSOLE = /server\/console\/[^/]+\.(html|js|css)$/;

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (ASSET.test(name) || CONSOLE.test(path)) cpSync(path, join("dist", relative("src", path)));
  }
}

walk("src");
