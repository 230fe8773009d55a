import { describe, expect, it } from "vitest";
import { PASSTHROUGH_VARIABLE, parsePassthrough, subprocessEnv } from "./env.ts";

const PARENT = {
  PATH: "/usr/bin:/bin",
  HOME: "/home/dev",
  LANG: "C.UTF-8",
  LC_ALL: "C.UTF-8",
  LC_TIME: "en_GB.UTF-8",
  TERM: "xterm-256color",
  TMPDIR: "/tmp/dev",
  USER: "dev",
  SHELL: "/bin/zsh",
  OPENAI_API_KEY: "sk-planted",
  DATABASE_URL: "postgres://u:p@db/prod",
  GH_PAT: "ghp_planted",
  SLACK_WEBHOOK: "https://hooks.slack.com/services/T/B/x",
  NPM_CONFIG_REGISTRY: "https://registry.example",
  NPM_CONFIG_CACHE: "/cache",
  EDITOR: "vim",
};

describe("subprocessEnv", () => {
  it("copies only the base names, LC_* included", () => {
    expect(subprocessEnv({ from: PARENT })).toEqual({
      PATH: "/usr/bin:/bin",
      HOME: "/home/dev",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      LC_TIME: "en_GB.UTF-8",
      TERM: "xterm-256color",
      TMPDIR: "/tmp/dev",
      USER: "dev",
      SHELL: "/bin/zsh",
    });
  });

  it("adds declared names, exact or by prefix, from the option and from TAIFENG_ENV_PASSTHROUGH", () => {
    const env = subprocessEnv({
      from: { ...PARENT, [PASSTHROUGH_VARIABLE]: "EDITOR, NPM_CONFIG_*" },
      passthrough: ["GH_PAT"],
    });
    expect(env.EDITOR).toBe("vim");
    expect(env.NPM_CONFIG_REGISTRY).toBe("https://registry.example");
    expect(env.NPM_CONFIG_CACHE).toBe("/cache");
    expect(env.GH_PAT).toBe("ghp_planted");
    expect(env.OPENAI_API_KEY).toBeUndefined();
    expect(env.DATABASE_URL).toBeUndefined();
    // The declaration itself is not passed on.
    expect(env[PASSTHROUGH_VARIABLE]).toBeUndefined();
  });

  it("never treats a bare * as 'everything'", () => {
    const env = subprocessEnv({ from: PARENT, passthrough: ["*"] });
    expect(Object.keys(env).sort()).toEqual(Object.keys(subprocessEnv({ from: PARENT })).sort());
  });

  it("lays explicit values over the passthrough, and undefined removes a name", () => {
    const env = subprocessEnv({ from: PARENT, set: { TERM: "dumb", PAGER: "cat", HOME: undefined } });
    expect(env.TERM).toBe("dumb");
    expect(env.PAGER).toBe("cat");
    expect("HOME" in env).toBe(false);
  });

  it("reads process.env by default", () => {
    process.env.TAIFENG_ENV_TEST_SECRET = "x";
    try {
      const env = subprocessEnv();
      expect(env.PATH).toBe(process.env.PATH);
      expect(env.TAIFENG_ENV_TEST_SECRET).toBeUndefined();
    } finally {
      delete process.env.TAIFENG_ENV_TEST_SECRET;
    }
  });

  it("splits declarations on commas and whitespace", () => {
    expect(parsePassthrough(" A,B  C,,D ")).toEqual(["A", "B", "C", "D"]);
    expect(parsePassthrough(undefined)).toEqual([]);
  });
});
