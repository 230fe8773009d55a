/**
 * `taifeng chat`: an interactive terminal session on one thread. Streams output, renders
 * tool calls compactly, asks approvals inline, takes slash commands; Ctrl-C interrupts the
 * running turn (a second Ctrl-C, or one at the prompt, exits). The thread is stored, so the
 * conversation survives exit (`--thread ID` continues it).
 */
import { createInterface, type Interface } from "node:readline";
import type { Command } from "commander";
import type { JsonlThreadStore } from "../conversation/jsonl-store.ts";
import { forkThread } from "../conversation/thread-ops.ts";
import { describeError } from "../errors.ts";
import { AgentEngine } from "../loop/engine.ts";
import { type Event, type EventMsgOf, isTurnEnd, type Op } from "../protocol/index.ts";
import { answerOp, promptText } from "./approval-prompt.ts";
import { loadCliConfig } from "./config-command.ts";
import { type EngineSetup, engineSetup } from "./engine-setup.ts";
import { type CliIO, EXIT, UsageError, wantsColor } from "./io.ts";
import { createRenderer } from "./render.ts";
import { checkThreadId, openStorage } from "./threads-command.ts";
import { configTrust } from "./trust-prompt.ts";

interface ChatFlags {
  readonly config?: string;
  readonly model?: string;
  readonly storage?: string;
  readonly thread?: string;
  readonly trust?: boolean;
}

type Request = EventMsgOf<"permission_requested" | "user_input_requested">;

const HELP = `commands: /rewind N  /fork  /compact  /model SPEC  /usage  /threads  /help  /exit
while a turn runs, a line steers it; Ctrl-C interrupts it (twice exits)
`;

/** State of one chat session. */
interface Session {
  engine: AgentEngine;
  running: boolean;
  readonly requests: Request[];
  readonly usage: { input: number; cached: number; output: number; cost: number; turns: number };
  lastInterrupt: number;
}

/** Runs the session until /exit, end of input or a double Ctrl-C. Exit code 0. */
export async function chatCommand(flags: ChatFlags, io: CliIO): Promise<number> {
  const folder = await configTrust({
    io,
    flag: flags.trust === true,
    interactive: io.stdin.isTTY === true,
    file: flags.config,
  });
  const loaded = loadCliConfig(
    io,
    flags.config,
    {
      ...(flags.model !== undefined ? { model: flags.model } : {}),
      ...(flags.storage !== undefined ? { storage: { dir: flags.storage } } : {}),
    },
    folder.trusted,
  );
  const setup = await engineSetup(loaded, io, { trusted: folder.trusted, interactive: true });
  const store = openStorage(setup.storageDir, io);
  const rl = createInterface({
    input: io.stdin,
    output: io.stdout,
    terminal: io.stdin.isTTY === true,
    prompt: "› ",
  });
  // Lines typed while the engine opens are kept, not lost.
  let closed = false;
  rl.on("close", () => {
    closed = true;
  });
  // Output may arrive after the terminal closed (a turn ending during shutdown).
  const prompt = rl.prompt.bind(rl);
  rl.prompt = (preserveCursor?: boolean) => {
    if (!closed) prompt(preserveCursor);
  };
  const early: string[] = [];
  const keep = (line: string) => early.push(line);
  rl.on("line", keep);
  let session: Session | undefined;
  try {
    if (flags.thread !== undefined) {
      checkThreadId(store, flags.thread);
      if (!(await store.exists(flags.thread)))
        throw new UsageError(`no thread ${flags.thread} in ${store.dir} (taifeng threads ls lists them)`);
    }
    session = await openSession(setup, store, io, rl, flags.thread);
    io.stdout.write(
      `taifeng chat on thread ${session.engine.threadId} (${setup.modelSpec}); /help for commands\n`,
    );
    rl.off("line", keep);
    await loop(session, setup, store, io, rl, early);
  } finally {
    rl.close();
    if (session) {
      await session.engine.close();
      io.stdout.write(
        `\nthread ${session.engine.threadId} (continue with taifeng chat --thread ${session.engine.threadId})\n`,
      );
    }
    await setup.close();
    await store.close();
  }
  return EXIT.ok;
}

async function openSession(
  setup: EngineSetup,
  store: JsonlThreadStore,
  io: CliIO,
  rl: Interface,
  threadId: string | undefined,
): Promise<Session> {
  const render = createRenderer({ out: io.stdout, err: io.stdout, color: wantsColor(io.stdout, io.env) });
  const session: Session = {
    engine: undefined as unknown as AgentEngine,
    running: false,
    requests: [],
    usage: { input: 0, cached: 0, output: 0, cost: 0, turns: 0 },
    lastInterrupt: 0,
  };
  const listener = (ev: Event) => {
    render(ev);
    const msg = ev.msg;
    if (msg.type === "turn_started") session.running = true;
    else if (msg.type === "permission_requested" || msg.type === "user_input_requested") {
      session.requests.push(msg);
      if (session.requests.length === 1) io.stdout.write(`\n${promptText(msg)}`);
    } else if (isTurnEnd(msg)) {
      session.running = false;
      session.requests.length = 0;
      session.usage.turns++;
      session.usage.input += msg.usage.inputTokens;
      session.usage.cached += msg.usage.cachedInputTokens;
      session.usage.output += msg.usage.outputTokens;
      session.usage.cost += "costUsd" in msg && msg.costUsd !== undefined ? msg.costUsd : 0;
      queueMicrotask(() => rl.prompt());
    } else if (msg.type === "op_rejected") io.stdout.write(`! ${msg.op}: ${msg.message}\n`);
    else if (
      msg.type === "thread_rewound" ||
      msg.type === "context_overridden" ||
      msg.type === "compaction_completed"
    )
      queueMicrotask(() => rl.prompt());
  };
  session.engine = await AgentEngine.open({
    ...setup.options,
    store,
    listeners: [listener],
    ...(threadId !== undefined ? { threadId } : {}),
  });
  return session;
}

/**
 * Runs a control op (/rewind, /compact, /model SPEC) to its end before the next line is
 * read, and confirms it (rejections are printed by the session's listener).
 */
async function control(session: Session, op: Op, io: CliIO): Promise<void> {
  let events: Event[];
  try {
    events = await session.engine.submitAndWait(op);
  } catch (err) {
    io.stdout.write(`! ${describeError(err)}\n`);
    return;
  }
  for (const { msg } of events) {
    if (msg.type === "thread_rewound")
      io.stdout.write(`rewound ${msg.turns} turn(s): ${msg.remainingTurns} left\n`);
    else if (msg.type === "context_overridden" && msg.model !== undefined)
      io.stdout.write(`model: ${msg.model} from the next turn\n`);
  }
}

function submit(session: Session, op: Op | string, io: CliIO): void {
  try {
    session.engine.submit(op);
  } catch (err) {
    io.stdout.write(`! ${describeError(err)}\n`);
  }
}

async function loop(
  session: Session,
  setup: EngineSetup,
  store: JsonlThreadStore,
  io: CliIO,
  rl: Interface,
  early: readonly string[],
): Promise<void> {
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const interrupt = () => {
    const now = Date.now();
    if (!session.running || now - session.lastInterrupt < 2000) {
      finish();
      return;
    }
    session.lastInterrupt = now;
    io.stdout.write("\n^C interrupting the turn (Ctrl-C again to exit)\n");
    submit(session, { type: "interrupt", reason: "Ctrl-C" }, io);
  };
  rl.on("SIGINT", interrupt);
  const removeInterrupt = io.onInterrupt(interrupt);
  rl.on("close", () => finish());
  // One line at a time, in order (a /fork must finish before the next line is read).
  let chain = Promise.resolve();
  const enqueue = (line: string) => {
    chain = chain
      .then(() => handleLine(line))
      .catch((err: unknown) => {
        io.stdout.write(`! ${describeError(err)}\n`);
      });
  };
  const handleLine = async (raw: string) => {
    const line = raw.trim();
    const pending = session.requests[0];
    if (pending) {
      session.requests.shift();
      submit(session, answerOp(pending, raw), io);
      const next = session.requests[0];
      if (next) io.stdout.write(promptText(next));
      return;
    }
    if (line === "") {
      if (!session.running) rl.prompt();
      return;
    }
    if (!line.startsWith("/")) {
      submit(session, session.running ? { type: "steer", text: line } : line, io);
      return;
    }
    const [command, ...args] = line.slice(1).split(/\s+/);
    switch (command) {
      case "exit":
      case "quit":
        finish();
        return;
      case "help":
        io.stdout.write(HELP);
        break;
      case "rewind": {
        const n = Number(args[0] ?? "1");
        if (!Number.isInteger(n) || n < 1) io.stdout.write("! /rewind takes a positive number of turns\n");
        else await control(session, { type: "rewind", turns: n }, io);
        break;
      }
      case "compact":
        await control(session, { type: "compact" }, io);
        break;
      case "model":
        if (args[0] === undefined) io.stdout.write(`model: ${session.engine.modelId}\n`);
        else await control(session, { type: "override_context", model: args[0] }, io);
        break;
      case "usage": {
        const u = session.usage;
        io.stdout.write(
          `this session: ${u.turns} turn(s), tokens in ${u.input} (cached ${u.cached}) out ${u.output}, $${u.cost.toFixed(4)}\n`,
        );
        break;
      }
      case "threads":
        for (const t of await store.list({ limit: 10 }))
          io.stdout.write(
            `${t.threadId === session.engine.threadId ? "*" : " "} ${t.threadId}  ${t.turns} turn(s)  ${t.status}  ${t.title ?? ""}\n`,
          );
        break;
      case "fork": {
        if (session.running) {
          io.stdout.write("! wait for the turn to end (or interrupt it) before forking\n");
          break;
        }
        const forked = await forkThread(store, session.engine.threadId);
        const old = session.engine.threadId;
        await session.engine.close();
        const next = await openSession(setup, store, io, rl, forked.threadId);
        session.engine = next.engine;
        io.stdout.write(`forked ${old} at turn ${forked.turns}: now on ${forked.threadId}\n`);
        break;
      }
      default:
        io.stdout.write(`! unknown command /${command}\n${HELP}`);
    }
    rl.prompt();
  };
  rl.prompt();
  for (const line of early) enqueue(line);
  rl.on("line", enqueue);
  await done;
  removeInterrupt();
}

/** Registers `taifeng chat`. */
export function registerChatCommand(program: Command, io: CliIO, result: { code: number }): void {
  program
    .command("chat")
    .description("an interactive session on one thread (new, or --thread ID)")
    .option("--config <file>", "an extra configuration file, above the project's")
    .option(
      "-m, --model <provider:model>",
      "model spec (default: configuration, else a configured key's provider, else the demo)",
    )
    .option("--storage <dir>", "thread storage directory (default $TAIFENG_STORAGE or ~/.taifeng/threads)")
    .option("--thread <id>", "continue this stored thread")
    .option("--trust", "trust the project folder: its allow rules, mode, hooks and skill scripts apply")
    .action(async (flags: ChatFlags) => {
      result.code = await chatCommand(flags, io);
    });
}
