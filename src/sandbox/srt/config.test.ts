import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findEnvFiles, hiddenPaths, isEnvFile, type Level1Spec, runtimeConfig } from "./config.ts";

const spec: Level1Spec = {
  root: "/w/app",
  writable: ["/w/app", "/cache"],
  network: false,
  home: "/home/dev",
  hide: ["/srv/secrets/*.pem"],
  reveal: ["/home/dev/.docker"],
  runtimeDir: "/tmp/taifeng-sandbox-x",
  tmp: "/tmp",
  ripgrep: "/opt/rg",
};

describe("runtimeConfig", () => {
  it("hides /tmp and the secrets, writes to the workspace only, and allows no domain strictly", () => {
    const config = runtimeConfig(spec);
    expect(config.network).toEqual({ allowedDomains: [], deniedDomains: [], strictAllowlist: true });
    expect(config.filesystem.allowWrite).toEqual(["/w/app", "/cache"]);
    expect(config.filesystem.allowRead).toEqual(["/tmp/taifeng-sandbox-x"]);
    expect(config.filesystem.denyRead).toEqual(["/tmp", ...hiddenPaths(spec)]);
    expect(config.filesystem.denyRead).toContain("/home/dev/.ssh");
    expect(config.filesystem.denyRead).toContain("/etc/shadow");
    expect(config.filesystem.denyRead).toContain("/srv/secrets/*.pem");
    expect(config.filesystem.denyRead).not.toContain("/home/dev/.docker");
    expect(config.ripgrep).toEqual({ command: "/opt/rg" });
    expect("bwrapPath" in config).toBe(false);
  });

  it("shows the runtime's own files again over the private /tmp, read-only, only when under /tmp", () => {
    const config = runtimeConfig({
      ...spec,
      runtimeFiles: ["/tmp/ci-clone/node_modules/@anthropic-ai/sandbox-runtime/vendor", "/opt/srt/vendor"],
    });
    expect(config.filesystem.allowRead).toEqual([
      "/tmp/taifeng-sandbox-x",
      "/tmp/ci-clone/node_modules/@anthropic-ai/sandbox-runtime/vendor",
    ]);
    expect(config.filesystem.allowWrite).toEqual(["/w/app", "/cache"]);
    // /tmpfoo is not under /tmp.
    expect(runtimeConfig({ ...spec, runtimeFiles: ["/tmpfoo/vendor"] }).filesystem.allowRead).toEqual([
      "/tmp/taifeng-sandbox-x",
    ]);
  });

  it("keeps the helper's own code read-only where a writable path covers it", () => {
    const config = runtimeConfig({
      ...spec,
      protect: ["/w/app/node_modules", "/opt/taifeng/dist/sandbox/srt"],
    });
    expect(config.filesystem.denyWrite).toEqual(["/w/app/node_modules"]);
  });

  it("makes a directory of the helper's the writable temp directory where there is no tmpfs", () => {
    const config = runtimeConfig({ ...spec, tmp: "/var/folders/x/taifeng-sandbox-y/tmp" });
    expect(config.filesystem.denyRead).toEqual(hiddenPaths(spec));
    expect(config.filesystem.allowWrite).toEqual([
      "/w/app",
      "/cache",
      "/var/folders/x/taifeng-sandbox-y/tmp",
    ]);
  });

  it("lists domains strictly, and lets every domain through the proxy for network: true", () => {
    expect(runtimeConfig({ ...spec, network: ["api.github.com", "*.npmjs.org:443"] }).network).toEqual({
      allowedDomains: ["api.github.com", "*.npmjs.org:443"],
      deniedDomains: [],
      strictAllowlist: true,
    });
    expect(runtimeConfig({ ...spec, network: true }).network).toEqual({
      allowedDomains: [],
      deniedDomains: [],
    });
  });
});

describe(".env files outside the workspace", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "taifeng-envfiles-"));
    const files = [
      "home/.env",
      "home/.envrc",
      "home/a/.env.production",
      "home/a/b/c/.env",
      "home/a/b/c/d/.env",
      "home/.hidden/.env",
      "home/a/node_modules/x/.env",
      "home/a/.env.example",
      "home/work/app/.env",
      "home/work/.env",
      "home/work/app/sub/.env",
      ".env",
    ];
    for (const f of files) {
      await mkdir(dirname(join(dir, f)), { recursive: true });
      await writeFile(join(dir, f), "x");
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("finds those in HOME to depth 3 and beside each ancestor, never inside the workspace", async () => {
    const found = findEnvFiles({ home: join(dir, "home"), root: join(dir, "home", "work", "app") });
    expect(found.map((f) => f.slice(dir.length + 1))).toEqual([
      ".env",
      "home/.env",
      "home/.envrc",
      "home/a/.env.production",
      "home/a/b/c/.env",
      "home/work/.env",
    ]);
  });

  it("tells env files from templates", () => {
    expect(["", ".env", ".env.local", ".envrc", ".env.example", ".envy", "x.env"].map(isEnvFile)).toEqual([
      false,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});
