// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} expansion in configuration files is under test
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "./load.ts";
import { configEntries, formatConfig } from "./show.ts";

let root: string;
let project: string;
let user: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "tf-config-"));
  project = join(root, "project");
  user = join(root, "home", ".taifeng");
  mkdirSync(project, { recursive: true });
  mkdirSync(user, { recursive: true });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const load = (env: Record<string, string> = {}, file?: string) =>
  loadConfig({ cwd: project, userDir: user, env, ...(file ? { file } : {}) });

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected an error");
}

describe("loadConfig", () => {
  it("merges user < project < --config with a source per value and resolves paths against the file", () => {
    writeFileSync(
      join(user, "taifeng.config.yaml"),
      "model: sim:demo\nserver:\n  port: 5000\n  tokens: [TF_TOKEN]\nlimits:\n  maxSteps: 7\n",
    );
    writeFileSync(
      join(project, "taifeng.config.json"),
      JSON.stringify({ server: { port: 6000 }, storage: { dir: "threads" } }),
    );
    const extra = join(root, "extra.yaml");
    writeFileSync(extra, "limits:\n  maxSteps: 9\n");
    const loaded = load({}, extra);
    expect(loaded.config).toEqual({
      model: "sim:demo",
      server: { port: 6000, tokens: ["TF_TOKEN"] },
      limits: { maxSteps: 9 },
      storage: { dir: join(project, "threads") },
    });
    expect(loaded.sources).toEqual({
      model: join(user, "taifeng.config.yaml"),
      "server.port": join(project, "taifeng.config.json"),
      "server.tokens": join(user, "taifeng.config.yaml"),
      "limits.maxSteps": extra,
      "storage.dir": join(project, "taifeng.config.json"),
    });
    expect(loaded.files).toEqual([
      join(user, "taifeng.config.yaml"),
      join(project, "taifeng.config.json"),
      extra,
    ]);
  });

  it("names file, line, column and key for an unknown key, with a suggestion", () => {
    writeFileSync(join(project, "taifeng.config.yaml"), "model: sim:demo\nserver:\n  port: 1\n  prot: 2\n");
    expect(failure(() => load())).toBe(
      `${join(project, "taifeng.config.yaml")}:4:3: unknown key "server.prot"; did you mean "port"?`,
    );
    writeFileSync(join(project, "taifeng.config.yaml"), "modle: x\n");
    expect(failure(() => load())).toMatch(
      /taifeng\.config\.yaml:1:1: unknown key "modle"; did you mean "model"\?/,
    );
  });

  it("names the line of a wrong type and of a JSON syntax error", () => {
    writeFileSync(join(project, "taifeng.config.json"), '{\n  "server": {\n    "port": "eighty"\n  }\n}\n');
    expect(failure(() => load())).toMatch(/taifeng\.config\.json:3:13: "server\.port" .*number/);
    writeFileSync(join(project, "taifeng.config.json"), '{\n  "model": "a",,\n}\n');
    expect(failure(() => load())).toMatch(/taifeng\.config\.json:2:\d+: /);
  });

  it("tells a .json file's syntax errors in JSON's terms, with line and column", () => {
    const f = join(project, "taifeng.config.json");
    writeFileSync(f, '{"model": ');
    expect(failure(() => load())).toBe(`${f}:1: not valid JSON: Unexpected end of JSON input`);
    writeFileSync(f, '{\n  "model": "x",\n}\n');
    expect(failure(() => load())).toBe(`${f}:3:1: not valid JSON: Expected double-quoted property name`);
    // YAML flow syntax is not JSON, even though the YAML parser would read it.
    writeFileSync(f, "{model: 'x'}");
    expect(failure(() => load())).toBe(`${f}:1:2: not valid JSON: Expected property name or '}'`);
  });

  it("refuses literal secrets: a key field, a credential-looking value, a secret variable expanded", () => {
    const f = join(project, "taifeng.config.yaml");
    writeFileSync(f, "providers:\n  openai:\n    apiKey: abc\n");
    expect(failure(() => load())).toBe(
      `${f}:3:5: "providers.openai.apiKey" would put a secret in the file; use apiKeyEnv instead`,
    );
    writeFileSync(f, "system: sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z\n");
    expect(failure(() => load())).toMatch(/:1:9: "system" looks like a literal secret/);
    writeFileSync(f, "system: 'key is ${OPENAI_API_KEY}'\n");
    expect(failure(() => load({ OPENAI_API_KEY: "x" }))).toMatch(
      /expands \$\{OPENAI_API_KEY\}, which holds a secret/,
    );
    writeFileSync(f, "server:\n  tokens: ['hunter2 is my token']\n");
    expect(failure(() => load())).toMatch(/:2:12: "server\.tokens\.0" must be an environment variable name/);
  });

  it("expands ${VAR} and ${VAR:-default}; an unset variable names file, line and key", () => {
    const f = join(project, "taifeng.config.yaml");
    writeFileSync(f, "model: ${TF_MODEL:-sim:demo}\nstorage:\n  dir: ${DATA}/threads\n");
    expect(load({ DATA: "/srv" }).config).toEqual({ model: "sim:demo", storage: { dir: "/srv/threads" } });
    expect(failure(() => load())).toBe(`${f}:3:8: "storage.dir": environment variable DATA is not set`);
  });

  it("refuses two configuration files in one folder and a missing --config file", () => {
    writeFileSync(join(project, "taifeng.config.yaml"), "model: a\n");
    writeFileSync(join(project, "taifeng.config.json"), "{}");
    expect(failure(() => load())).toMatch(/both taifeng\.config\.json and taifeng\.config\.yaml exist/);
    rmSync(join(project, "taifeng.config.json"));
    expect(failure(() => load({}, "nope.yaml"))).toMatch(/--config nope\.yaml: no such file/);
  });

  it("validates mcpServers with the MCP loader (an unknown server key names the server)", () => {
    writeFileSync(
      join(project, "taifeng.config.yaml"),
      "mcpServers:\n  fs:\n    command: node\n    arg: [x]\n",
    );
    expect(failure(() => load())).toMatch(/server "fs".*arg/);
  });

  it("config show lists each value with its source and masks secrets, reporting token variables only as set/unset", () => {
    const f = join(project, "taifeng.config.yaml");
    writeFileSync(
      f,
      "server:\n  tokens: [TF_TOKEN, TF_OTHER]\n  host: ${BIND}\nproviders:\n  openai:\n    apiKeyEnv: MY_OPENAI\n",
    );
    const secret = "Zq8vN3rT6yK1pW4sX7bM0cF2hJ5lD9gA";
    const env = { TF_TOKEN: secret, MY_OPENAI: "sk-test-abcdefghijklmnopqrstuvwx", BIND: "0.0.0.0" };
    const text = formatConfig(configEntries(load(env), env), [f]);
    expect(text).not.toContain(secret);
    expect(text).not.toContain("sk-test");
    expect(text).toContain(`= ["TF_TOKEN","TF_OTHER"] (set, unset)   # ${f}`);
    expect(text).toMatch(/server\.tokens\s+= \["TF_TOKEN"/);
    expect(text).toMatch(/providers\.openai\.apiKeyEnv \(set\)\s+= true/);
    expect(text).toMatch(/server\.host\s+= "0\.0\.0\.0"/);
  });
});
