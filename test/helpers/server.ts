/** A real listening Taifeng server on a temporary JSONL store, driven by the simulator. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../../src/llm/types.ts";
import { toolOutputText } from "../../src/protocol/index.ts";
import { createServer, type ServerOptions, type TaifengServer } from "../../src/server/server.ts";
import { defineTool } from "../../src/tool/define.ts";

export const TOKEN = "tf-test-token-0123456789abcdef";

/**
 * The scripted model: "shell: CMD" calls the shell tool; "slow" streams 20 chunks 15 ms
 * apart; anything else answers "hello from the simulator". After a tool output it answers
 * with that output.
 */
export function scriptedModel(): SimClient {
  const step = (request: ModelRequest) => {
    const last = request.items.at(-1);
    if (last?.type === "function_call_output") return { text: `tool said: ${toolOutputText(last.output)}` };
    const user = [...request.items].reverse().find((i) => i.type === "message" && i.role === "user");
    const text =
      user && user.type === "message" ? user.content.map((c) => ("text" in c ? c.text : "")).join("") : "";
    const shell = /^shell: (.+)$/.exec(text);
    if (shell) return { toolCalls: [{ name: "shell", arguments: { command: shell[1] } }] };
    if (text.startsWith("slow"))
      return { text: Array.from({ length: 20 }, (_, i) => `w${i} `), chunkDelayMs: 15 };
    return { text: ["hello ", "from ", "the ", "simulator"], usage: { inputTokens: 50, outputTokens: 4 } };
  };
  return new SimClient({ script: [step], onExhausted: "repeat_last" });
}

/** A shell-like tool that asks for permission (rule Bash) and records what it ran. */
export function recordingShell(ran: string[]) {
  return defineTool({
    name: "shell",
    description: "Runs a shell command.",
    schema: z.object({ command: z.string() }),
    permission: { rule: "Bash", field: "command" },
    execute: ({ command }) => {
      ran.push(command);
      return `ran ${command}`;
    },
  });
}

/** A temporary storage folder. */
export async function tempStorage(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "tf-server-"));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Starts a server on a free port with the scripted model and the recording shell. */
export async function startServer(
  storageDir: string,
  ran: string[],
  extra: Partial<ServerOptions> = {},
): Promise<{ server: TaifengServer; url: string }> {
  const server = await createServer({
    storageDir,
    port: 0,
    tokens: ["TF_TEST_TOKEN"],
    env: { TF_TEST_TOKEN: TOKEN, HOME: storageDir },
    model: scriptedModel(),
    tools: [recordingShell(ran)],
    permissions: { settings: { env: { HOME: storageDir }, projectTrust: false } },
    cwd: storageDir,
    drainMs: 2000,
    ...extra,
  });
  const url = await server.listen();
  return { server, url };
}

/** fetch with the test token. */
export function api(url: string, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("authorization")) headers.set("authorization", `Bearer ${TOKEN}`);
  if (init.body !== undefined && !headers.has("content-type"))
    headers.set("content-type", "application/json");
  return fetch(`${url}${path}`, { ...init, headers });
}
