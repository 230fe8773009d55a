import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.ts";

/**
 * A new user's first minutes, as the README tells them: the real entry points on an old
 * Node say in one line what is needed; `npm run demo` is the simulator whatever keys are
 * set; the README's `taifeng` command works from a fresh clone once linked.
 */

const scratch = mkdtempSync(join(tmpdir(), "taifeng-first-contact-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const PROVIDER_KEYS = [
  "OPENAI_API_KEY",
  "ANTHROPIC_API_KEY",
  "GEMINI_API_KEY",
  "GOOGLE_API_KEY",
  "DEEPSEEK_API_KEY",
];
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TAIFENG_STORAGE: join(scratch, "threads"),
    NO_COLOR: "1",
    ...extra,
  };
  for (const key of PROVIDER_KEYS) if (!(key in extra)) delete env[key];
  return env;
}

/** A Node older than the sources need (the machines ship Node 20), or undefined. */
function oldNode(): string | undefined {
  const candidates = [process.env.TAIFENG_OLD_NODE, "/usr/bin/node", "/usr/local/bin/node"];
  try {
    candidates.push(...execFileSync("which", ["-a", "node"], { encoding: "utf8" }).split("\n"));
  } catch {
    // no `which`: the fixed candidates only
  }
  for (const path of candidates) {
    if (!path || !existsSync(path)) continue;
    const version = spawnSync(path, ["--version"], { encoding: "utf8" }).stdout.trim().replace(/^v/, "");
    const [major = 0, minor = 0] = version.split(".").map(Number);
    if (major < 22 || (major === 22 && minor < 18)) return path;
  }
  return undefined;
}

const old = oldNode();
if (!old && process.env.CI === "true") {
  throw new Error("first-contact tests need a Node older than 22.18 (set TAIFENG_OLD_NODE to its path)");
}
if (!old)
  console.warn("first-contact: no Node older than 22.18 on this machine; the old-Node checks are skipped");

// Each test starts npm or Node processes: slow on a busy machine.
const SLOW = { timeout: 120_000 };

describe.runIf(old)("an old Node gets one line that says what is needed", () => {
  const oldPath = () => `${dirname(old as string)}:${process.env.PATH ?? ""}`;
  const ONE_LINE =
    /^taifeng needs Node\.js 22\.18 or newer to run from a checkout \(this is \d+\.\d+\.\d+\): install Node 24 LTS, e\.g\. `nvm install 24` or https:\/\/nodejs\.org\/en\/download\n$/;

  it("the taifeng command", SLOW, () => {
    const res = spawnSync(old as string, [join(ROOT, "bin", "taifeng.mjs"), "run", "hi"], {
      encoding: "utf8",
      env: cleanEnv(),
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(ONE_LINE);
    expect(res.stdout).toBe("");
  });

  it("npm run demo, npm run example and npm test", SLOW, () => {
    for (const script of [["run", "demo"], ["run", "example", "quickstart"], ["test"]]) {
      const res = spawnSync("npm", [...script, "--silent"], {
        cwd: ROOT,
        encoding: "utf8",
        env: cleanEnv({ PATH: oldPath() }),
      });
      expect({ script, status: res.status }).toEqual({ script, status: 1 });
      expect(res.stderr).toMatch(ONE_LINE);
      expect(res.stderr).not.toContain("ERR_");
    }
  });

  it("npm ci stops before installing anything", SLOW, () => {
    const dir = join(scratch, "clone");
    execFileSync("mkdir", ["-p", dir]);
    for (const file of ["package.json", "package-lock.json", ".npmrc"])
      copyFileSync(join(ROOT, file), join(dir, file));
    const res = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], {
      cwd: dir,
      encoding: "utf8",
      env: cleanEnv({ PATH: oldPath() }),
    });
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/Unsupported engine[\s\S]*Required: \{"node":">=22\.13"\}/);
    expect(existsSync(join(dir, "node_modules"))).toBe(false);
  });
});

describe("the no-key demo", () => {
  it("npm run demo runs the simulator even when a provider key is set", SLOW, () => {
    const res = spawnSync("npm", ["run", "demo", "--silent"], {
      cwd: ROOT,
      encoding: "utf8",
      env: cleanEnv({ OPENAI_API_KEY: "sk-not-a-real-key", ANTHROPIC_API_KEY: "not-a-real-key" }),
      timeout: 100_000,
    });
    expect(res.status).toBe(0);
    expect(res.stderr).toContain("⏺ current_time");
    expect(res.stderr).toContain("⏺ list_files");
    expect(res.stdout).toContain("Both tools ran in parallel under the engine's control.");
  });
});

describe("the README's taifeng command from a clone", () => {
  it(
    "npm link (here: a global install of the clone into a private prefix) puts a working taifeng on PATH",
    SLOW,
    () => {
      const prefix = join(scratch, "prefix");
      execFileSync("npm", ["install", "--global", "--prefix", prefix, "--no-audit", "--no-fund", ROOT], {
        env: cleanEnv(),
        stdio: "pipe",
      });
      const bin = join(prefix, "bin", "taifeng");
      const res = spawnSync(bin, ["run", "What can you do?"], {
        cwd: scratch,
        encoding: "utf8",
        env: cleanEnv(),
      });
      expect(res.status).toBe(0);
      expect(res.stdout).toContain("Both tools ran in parallel under the engine's control.");
      const version = spawnSync(bin, ["--version"], { encoding: "utf8", env: cleanEnv() });
      expect(version.stdout.trim()).toBe("0.1.0");
    },
  );
});
