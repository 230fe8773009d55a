import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { JsonlThreadStore } from "../src/conversation/jsonl-store.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelClient, ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import type { Event } from "../src/protocol/index.ts";
import { createRedactor } from "../src/redact/redactor.ts";
import { FileArtifactStore } from "../src/tool/artifacts.ts";
import { type BuiltinTools, builtinTools } from "../src/tool/builtin/index.ts";
import { defineTool } from "../src/tool/define.ts";
import { runCli as runCliProcess } from "./helpers/cli.ts";

// Secrets planted in the environment and in tool outputs must not appear in any byte the
// engine wrote or published: transcripts, the SQLite thread directory, artifacts, the audit
// log, every event and every model request. Fakes are assembled at run time.
const mixed = (n: number, seed: string) =>
  Array.from({ length: n }, (_, i) => seed[(i * 7) % seed.length]).join("");

const ENV_SECRETS = {
  OPENAI_API_KEY: `sk-proj-${mixed(48, "q7Wm2Lp9Xz4Rk8Tn3Vb6")}`,
  GH_PAT: "plain-words-but-a-personal-token-77",
  DATABASE_URL: `postgres://app:${mixed(18, "Pw9zQ2xK7vL4")}@db.internal:5432/app`,
  SLACK_WEBHOOK_URL: `https://hooks.example.invalid/T01/B02/${mixed(24, "Hk3Nf8Qs2Wd7")}`,
};
const DB_PASSWORD = ENV_SECRETS.DATABASE_URL.slice(
  "postgres://app:".length,
  ENV_SECRETS.DATABASE_URL.indexOf("@"),
);
const FORMAT_SECRETS = {
  github: `ghp_${mixed(36, "Ab3Cd5Ef7Gh9Jk2Lm4")}`,
  aws: "AKIAQQQQQQQQQQQQ7XYZ",
  jwt: `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QifQ.${mixed(43, "s1G2n3A4t5U6r7E8")}`,
  key: `-----BEGIN RSA PRIVATE KEY-----\n${mixed(64, "MIIEpAIBAAKCAQEA")}\n${mixed(64, "x9Y8z7W6v5U4")}\n-----END RSA PRIVATE KEY-----`,
};
const KEY_BODY = FORMAT_SECRETS.key.split("\n")[1] as string;
// What must never appear: each secret, and the distinctive inner parts of the structured ones.
const NEEDLES = [...Object.values(ENV_SECRETS), DB_PASSWORD, ...Object.values(FORMAT_SECRETS), KEY_BODY];

let dir: string;
let tools: BuiltinTools | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-redaction-"));
});

afterEach(async () => {
  await tools?.close();
  tools = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

function leaks(text: string): string[] {
  return NEEDLES.filter((n) => text.includes(n) || text.includes(JSON.stringify(n).slice(1, -1)));
}

describe("secrets never reach the model, the events or anything the engine wrote", () => {
  it("masks planted secrets end to end: env values, token formats, a read file, bash output, an artifact, a custom tool, the prompt", async () => {
    const workspace = join(dir, "ws");
    const storage = join(dir, "threads");
    const artifactsDir = join(dir, "artifacts");
    const auditPath = join(dir, "audit", "audit.jsonl");
    await mkdir(join(workspace, "config"), { recursive: true });
    const fileText = [
      `github = ${FORMAT_SECRETS.github}`,
      `aws_access_key_id = ${FORMAT_SECRETS.aws}`,
      `session = ${FORMAT_SECRETS.jwt}`,
      FORMAT_SECRETS.key,
      `openai = ${ENV_SECRETS.OPENAI_API_KEY}`,
    ].join("\n");
    await writeFile(join(workspace, "config", "secrets.txt"), fileText);

    // The commands' environment carries two secrets, as it would if the host passed them on.
    tools = builtinTools({
      only: ["read_file", "bash"],
      maxOutputChars: 1500,
      env: { DATABASE_URL: ENV_SECRETS.DATABASE_URL, GH_PAT: ENV_SECRETS.GH_PAT },
    });
    const lookup = defineTool({
      name: "fetch_config",
      description: "Returns the service configuration.",
      schema: z.object({}),
      readOnly: true,
      execute: () => ({
        output: [
          { type: "text" as const, text: `webhook: ${ENV_SECRETS.SLACK_WEBHOOK_URL}` },
          { type: "text" as const, text: `db password: ${DB_PASSWORD}` },
        ],
      }),
    });
    const requests: ModelRequest[] = [];
    const sim = new SimClient({
      script: [
        { toolCalls: [{ id: "c1", name: "read_file", arguments: { path: "config/secrets.txt" } }] },
        {
          toolCalls: [
            {
              id: "c2",
              name: "bash",
              arguments: { command: "cat config/secrets.txt; printenv DATABASE_URL GH_PAT" },
            },
          ],
        },
        {
          toolCalls: [
            {
              id: "c3",
              name: "bash",
              arguments: {
                command:
                  "for i in $(seq 1 300); do echo line $i; done; printenv GH_PAT; for i in $(seq 1 300); do echo more $i; done",
              },
            },
          ],
        },
        { toolCalls: [{ id: "c4", name: "fetch_config", arguments: {} }] },
        { text: "All configuration was read." },
      ],
    });
    const model: ModelClient = {
      id: sim.id,
      stream: (request, options) => {
        requests.push(structuredClone(request));
        return sim.stream(request, options);
      },
    };
    // What the tools really returned, seen by an in-process post_tool hook: proves the secrets
    // were produced and masked downstream (not simply never there).
    const raw: string[] = [];
    const store = new JsonlThreadStore({ dir: storage });
    const events: Event[] = [];
    const engine = await AgentEngine.open({
      model,
      tools: [...tools.tools, lookup],
      cwd: workspace,
      store,
      title: `deploy with ${ENV_SECRETS.GH_PAT}`,
      artifacts: new FileArtifactStore({ dir: artifactsDir }),
      redactor: createRedactor({ env: { ...ENV_SECRETS, HOME: "/home/x", PATH: "/usr/bin" } }),
      hooks: {
        auditPath,
        hooks: [
          {
            point: "post_tool",
            run: (e) => void raw.push(JSON.stringify(e.point === "post_tool" ? e.output : "")),
          },
        ],
      },
      listeners: [(ev) => events.push(ev)],
    });
    const id = engine.submit(`Connect with ${ENV_SECRETS.DATABASE_URL} and check the config.`);
    for await (const ev of engine.subscribe(id))
      if (ev.msg.type === "turn_failed") throw new Error(JSON.stringify(ev.msg));
    await engine.close();
    await store.close();

    // The secrets were really there.
    const rawText = raw.join("\n");
    for (const needle of [FORMAT_SECRETS.github, ENV_SECRETS.DATABASE_URL, ENV_SECRETS.GH_PAT, DB_PASSWORD])
      expect(rawText).toContain(JSON.stringify(needle).slice(1, -1));

    // Nothing the model saw holds one, and it saw the masks instead.
    const seen = JSON.stringify(requests);
    expect(leaks(seen)).toEqual([]);
    for (const mask of [
      "[REDACTED:github_token]",
      "[REDACTED:aws_access_key_id]",
      "[REDACTED:jwt]",
      "[REDACTED:private_key]",
      "[REDACTED:OPENAI_API_KEY]",
      "[REDACTED:DATABASE_URL]",
      "[REDACTED:GH_PAT]",
      "[REDACTED:SLACK_WEBHOOK_URL]",
      "[REDACTED:DATABASE_URL password]",
    ])
      expect(seen.includes(mask), mask).toBe(true);
    // The third call's output was capped: its full text went to an artifact.
    expect(/artifact art_/.test(seen)).toBe(true);

    // No event holds one.
    expect(events.length).toBeGreaterThan(10);
    expect(leaks(JSON.stringify(events))).toEqual([]);

    // No byte written anywhere holds one: transcripts, lock files, the SQLite directory (and
    // its WAL), artifacts, the audit log.
    const files = await filesUnder(dir);
    const written = files.filter((f) => !f.startsWith(workspace));
    expect(written.some((f) => f.endsWith(".jsonl") && f.startsWith(storage))).toBe(true);
    expect(written.some((f) => f.includes("index.sqlite"))).toBe(true);
    expect(written.some((f) => f.startsWith(artifactsDir))).toBe(true);
    expect(written).toContain(auditPath);
    for (const file of written) {
      if ((await stat(file)).size === 0) continue;
      const bytes = (await readFile(file)).toString("latin1");
      expect({ file, leaks: leaks(bytes) }).toEqual({ file, leaks: [] });
    }
    const audit = await readFile(auditPath, "utf8");
    expect(audit).toContain("[REDACTED:GH_PAT]");
  });

  it("refuses to write a mask back into a file whose secrets the model never saw", async () => {
    const workspace = join(dir, "ws");
    await mkdir(workspace, { recursive: true });
    const original = `token=${FORMAT_SECRETS.github}\nname=demo\n`;
    await writeFile(join(workspace, ".env"), original);
    tools = builtinTools({ only: ["read_file", "write_file", "edit_file", "apply_patch"] });
    const sim = new SimClient({
      script: [
        { toolCalls: [{ id: "c1", name: "read_file", arguments: { path: ".env" } }] },
        {
          toolCalls: [
            {
              id: "c2",
              name: "write_file",
              arguments: { path: ".env", content: "token=[REDACTED:github_token]\nname=renamed\n" },
            },
          ],
        },
        {
          toolCalls: [
            {
              id: "c3",
              name: "edit_file",
              arguments: {
                path: ".env",
                old_string: "name=demo",
                new_string: "token=[REDACTED:github_token]\nname=x",
              },
            },
          ],
        },
        {
          toolCalls: [
            {
              id: "c5",
              name: "apply_patch",
              arguments: {
                patch:
                  "--- a/.env\n+++ b/.env\n@@ -1,2 +1,2 @@\n-token=[REDACTED:github_token]\n+token=[REDACTED:github_token]2\n name=demo\n",
              },
            },
          ],
        },
        {
          toolCalls: [
            {
              id: "c6",
              name: "apply_patch",
              arguments: {
                patch: "--- /dev/null\n+++ b/copy.env\n@@ -0,0 +1 @@\n+token=[REDACTED:github_token]\n",
              },
            },
          ],
        },
        {
          toolCalls: [
            {
              id: "c4",
              name: "edit_file",
              arguments: { path: ".env", old_string: "name=demo", new_string: "name=renamed" },
            },
          ],
        },
        { text: "done" },
      ],
    });
    const engine = await AgentEngine.open({
      model: sim,
      tools: tools.tools,
      cwd: workspace,
      redactor: createRedactor({ env: false }),
    });
    const outputs: string[] = [];
    engine.on((ev) => {
      if (ev.msg.type === "tool_call_completed")
        outputs.push(`${ev.msg.name} ${ev.msg.status}: ${String(ev.msg.output)}`);
    });
    for await (const _ of engine.subscribe(engine.submit("rename the app")));
    await engine.close();
    expect(outputs[0]).toContain("[REDACTED:github_token]");
    expect(outputs[1]).toMatch(
      /^write_file error: Refused: the new content of \.env contains \[REDACTED:github_token\]/,
    );
    expect(outputs[2]).toMatch(/^edit_file error: Refused/);
    // The patch's context holds the mask, not the secret the file holds: it cannot apply.
    expect(outputs[3]).toMatch(/^apply_patch error/);
    expect(outputs[4]).toMatch(/^apply_patch error: Refused: the new content of copy\.env contains/);
    expect(outputs[5]).toMatch(/^edit_file ok/);
    expect(await readFile(join(workspace, ".env"), "utf8")).toBe(
      original.replace("name=demo", "name=renamed"),
    );
  });

  it("taifeng run masks the secrets of its own environment in what it prints and keeps", async () => {
    const workspace = join(dir, "ws");
    const storage = join(dir, "threads");
    await mkdir(workspace, { recursive: true });
    // The value reaches the command's output through a file, whatever environment the
    // command itself gets.
    await writeFile(join(workspace, "notes.txt"), `deploy token: ${ENV_SECRETS.GH_PAT}\n`);
    await writeFile(
      join(dir, "model.json"),
      JSON.stringify([
        { toolCalls: [{ name: "bash", arguments: { command: "cat notes.txt" } }] },
        { text: "The token is in notes.txt." },
      ]),
    );
    const res = await runCliProcess(
      [
        "run",
        "--json",
        "--permission-mode",
        "bypassPermissions",
        "--model",
        `sim:${join(dir, "model.json")}`,
        "show the notes",
      ],
      {
        cwd: workspace,
        env: { GH_PAT: ENV_SECRETS.GH_PAT, HOME: join(dir, "home"), TAIFENG_STORAGE: storage },
      },
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("deploy token: [REDACTED:GH_PAT]");
    expect(leaks(res.stdout + res.stderr)).toEqual([]);
    const written = await filesUnder(storage);
    expect(written.some((f) => f.endsWith(".jsonl"))).toBe(true);
    for (const file of written)
      expect({ file, leaks: leaks((await readFile(file)).toString("latin1")) }).toEqual({ file, leaks: [] });
  });
});
