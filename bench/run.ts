// Runs every bench/*.bench.ts (or those named on the command line) in its own Node process,
// one after another, so that benchmarks do not disturb each other.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
let failed = 0;
for (const file of files) {
  console.log(`\n== ${file}`);
  const res = spawnSync(process.execPath, ["--expose-gc", join(dir, file)], { stdio: "inherit" });
  if (res.status !== 0) failed++;
}
process.exitCode = failed > 0 ? 1 : 0;
