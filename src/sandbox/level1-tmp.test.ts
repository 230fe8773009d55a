import { execFile } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, readFile, realpath, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { level1Tests } from "../../test/helpers/sandbox.ts";

// Level 1 with the workspace and the installation under /tmp (a CI checkout in /tmp, a
// project cloned there): the private /tmp is mounted over the host's, and the runtime's seccomp
// helper and the workspace must still be there inside, while the rest of the host's /tmp stays
// hidden. The installation is a copy of src/ and of the runtime package in a /tmp folder, run
// in a child process (the runtime is found from where the code is).

const gate = await level1Tests();
const REPO = fileURLToPath(new URL("../..", import.meta.url));

let dir: string;

beforeAll(async () => {
  dir = await realpath(await mkdtemp("/tmp/taifeng-l1tmp-"));
  const inst = join(dir, "inst");
  cpSync(join(REPO, "src"), join(inst, "src"), { recursive: true });
  cpSync(join(REPO, "package.json"), join(inst, "package.json"));
  const modules = join(inst, "node_modules");
  mkdirSync(join(modules, "@anthropic-ai"), { recursive: true });
  cpSync(
    join(REPO, "node_modules/@anthropic-ai/sandbox-runtime"),
    join(modules, "@anthropic-ai/sandbox-runtime"),
    { recursive: true },
  );
  for (const name of readdirSync(join(REPO, "node_modules")))
    if (name !== "@anthropic-ai") symlinkSync(join(REPO, "node_modules", name), join(modules, name));
  mkdirSync(join(dir, "ws"));
  writeFileSync(join(dir, "host-secret.txt"), "tmp-sibling-7f2a");
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs `script` at level 1 from the copy under /tmp, in the workspace under /tmp. */
function runFromTmp(script: string): Promise<{ status: string; output?: string; message?: string }> {
  const probe = join(dir, "inst", "probe.ts");
  writeFileSync(
    probe,
    `import { Sandbox } from "./src/sandbox/sandbox.ts";
import { subprocessEnv } from "./src/sandbox/env.ts";
const s = new Sandbox({ level: 1, writable: [${JSON.stringify(join(dir, "ws"))}], network: false }, { home: "/nonexistent" });
const r = await s.run({ argv: ["/bin/bash", "-c", ${JSON.stringify(script)}], cwd: ${JSON.stringify(join(dir, "ws"))},
  env: subprocessEnv({}), timeoutMs: 60000, signal: new AbortController().signal, killGraceMs: 200 });
s.close();
process.stdout.write(JSON.stringify(r));
`,
  );
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [probe],
      { cwd: join(dir, "inst"), timeout: 90_000, killSignal: "SIGKILL" },
      (err, stdout) => {
        if (err) reject(new Error(`probe failed: ${err.message}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

describe.skipIf(!gate.run)(
  "level 1 with the workspace and the installation under /tmp",
  { timeout: 120_000 },
  () => {
    it("runs, writes the workspace, and still hides the rest of the host's /tmp and protects the runtime", async () => {
      const vendor = join(dir, "inst/node_modules/@anthropic-ai/sandbox-runtime/vendor");
      const r = await runFromTmp(
        [
          "echo kept > made.txt",
          `cat ${JSON.stringify(join(dir, "host-secret.txt"))} 2>/dev/null || echo sibling-hidden`,
          `touch ${JSON.stringify(join(vendor, "planted"))} 2>/dev/null || echo vendor-read-only`,
          "echo private > /tmp/private.txt && cat /tmp/private.txt",
        ].join("; "),
      );
      expect(r.message).toBeUndefined();
      expect(r.status).toBe("exited");
      expect(r.output).toContain("sibling-hidden");
      expect(r.output).not.toContain("tmp-sibling-7f2a");
      expect(r.output).toContain("vendor-read-only");
      expect(r.output).toContain("private");
      expect(await readFile(join(dir, "ws", "made.txt"), "utf8")).toBe("kept\n");
      // The command's /tmp was its own: nothing it wrote there reached the host's.
      expect(readdirSync(dir).includes("private.txt")).toBe(false);
      await expect(readFile("/tmp/private.txt", "utf8")).rejects.toThrow();
      expect(readdirSync(vendor)).not.toContain("planted");
    });
  },
);
