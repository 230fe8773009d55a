import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { JsonlThreadStore } from "../conversation/jsonl-store.ts";
import { type ReplayedThread, replayRollout } from "../conversation/replay.ts";
import { summarizeThread, type ThreadInfo } from "../conversation/summary.ts";
import { forkThread, rewindThread } from "../conversation/thread-ops.ts";
import { describeError, TaifengError } from "../errors.ts";
import type { ResponseItem } from "../protocol/index.ts";
import { messageText, toolOutputText } from "../protocol/index.ts";
import { type CliIO, UsageError, wantsColor } from "./io.ts";

/**
 * Where transcripts live when `--storage` is not given: `$TAIFENG_STORAGE`, else
 * `~/.taifeng/threads`.
 */
export function defaultStorageDir(env: CliIO["env"]): string {
  return env.TAIFENG_STORAGE ?? join(env.HOME ?? homedir(), ".taifeng", "threads");
}

/**
 * Opens the JSONL store a command works on. Its warnings (an index rebuilt, a corrupt
 * transcript) go to stderr, each said once per command however often the store repeats it.
 * A directory that cannot be created or written is a UsageError at once.
 */
export function openStorage(
  dir: string | undefined,
  io: CliIO,
  options: { readonly quiet?: (message: string) => boolean } = {},
): JsonlThreadStore {
  const path = resolve(io.cwd, dir ?? defaultStorageDir(io.env));
  ensureStorageDir(path, dir !== undefined ? "--storage" : "thread storage");
  const said = new Set<string>();
  return new JsonlThreadStore({
    dir: path,
    onWarning: (message) => {
      if (said.has(message) || options.quiet?.(message)) return;
      said.add(message);
      io.stderr.write(`taifeng: ${message}\n`);
    },
  });
}

/**
 * Creates the storage directory one level at a time and checks that it is writable. Not
 * `mkdir -p`: on a path such as /proc/x, Node's recursive mkdir retries forever at full CPU.
 */
function ensureStorageDir(path: string, what: string): void {
  const missing: string[] = [];
  let at = path;
  while (!existsSync(at)) {
    missing.unshift(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  const unusable = (why: string) => new UsageError(`${what} ${path} cannot be used: ${why}`);
  if (existsSync(at) && !statSync(at).isDirectory()) throw unusable(`${at} is not a directory`);
  for (const dir of missing) {
    try {
      mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST")
        throw unusable(`cannot create ${dir} (${describeError(err)})`);
    }
  }
  try {
    accessSync(path, constants.W_OK);
  } catch (err) {
    throw unusable(`not writable (${describeError(err)})`);
  }
}

/** Checks a thread id as the store would name its file: a bad one is a usage error. */
export function checkThreadId(store: JsonlThreadStore, threadId: string): void {
  try {
    store.pathOf(threadId);
  } catch (err) {
    throw new UsageError(describeError(err));
  }
}

function positiveInt(what: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`${what} must be a positive integer, got "${value}"`);
  return Number(value);
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function when(ts: number): string {
  return new Date(ts).toISOString().replace("T", " ").slice(0, 16);
}

function formatList(threads: readonly ThreadInfo[]): string {
  if (threads.length === 0) return "no threads\n";
  const rows = threads.map((t) => [
    t.threadId,
    t.status,
    String(t.turns),
    when(t.updatedAt),
    `${t.usage.inputTokens}/${t.usage.outputTokens}`,
    (t.title ?? "") + (t.parentThreadId ? ` (fork of ${t.parentThreadId}@${t.parentTurns})` : ""),
  ]);
  const head = ["THREAD", "STATUS", "TURNS", "UPDATED (UTC)", "TOKENS IN/OUT", "TITLE"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join("\n")}\n`;
}

function describeItem(item: ResponseItem, dim: (s: string) => string): string {
  switch (item.type) {
    case "message":
      return `${item.role}: ${oneLine(messageText(item), 300)}`;
    case "reasoning":
      return dim(`(reasoning) ${oneLine(item.text, 200)}`);
    case "function_call":
      return `→ ${item.name} ${oneLine(item.arguments, 200)}`;
    case "function_call_output":
      return `${item.isError ? "✗" : "←"} ${oneLine(toolOutputText(item.output), 200)}`;
    case "compaction":
      return dim(`(summary of ${item.replacedItems} items) ${oneLine(item.summary, 300)}`);
  }
}

function formatThread(info: ThreadInfo, replay: ReplayedThread, color: boolean): string {
  const dim = (s: string) => (color ? `\u001b[2m${s}\u001b[0m` : s);
  const out: string[] = [
    `thread   ${info.threadId}${info.title ? `  ${info.title}` : ""}`,
    `status   ${info.status} · ${info.turns} turn(s) · created ${when(info.createdAt)} · updated ${when(info.updatedAt)} UTC`,
    `tokens   in ${info.usage.inputTokens} (cached ${info.usage.cachedInputTokens}) · out ${info.usage.outputTokens}`,
  ];
  if (info.parentThreadId) out.push(`fork of  ${info.parentThreadId} at turn ${info.parentTurns}`);
  const firstTurn = replay.turns[0]?.start ?? replay.items.length;
  if (firstTurn > 0) {
    out.push("", dim(`── checkpoint (${replay.turnCount - replay.turns.length} earlier turn(s))`));
    for (const item of replay.items.slice(0, firstTurn)) out.push(`  ${describeItem(item, dim)}`);
  }
  const folded = replay.turnCount - replay.turns.length;
  replay.turns.forEach((turn, i) => {
    const end = replay.turns[i + 1]?.start ?? replay.items.length;
    out.push(
      "",
      dim(`── turn ${folded + i + 1} · ${turn.outcome} · ${turn.context.model ?? "?"} · ${turn.turnId}`),
    );
    for (const item of replay.items.slice(turn.start, end)) out.push(`  ${describeItem(item, dim)}`);
  });
  return `${out.join("\n")}\n`;
}

/**
 * `threads ls --tree`: the directory's rows as a forest; `--search` and `--limit` pick the
 * top-level threads, each shown with its whole subtree.
 */
async function listTree(
  store: JsonlThreadStore,
  flags: StorageFlags & { search?: string; limit?: string },
): Promise<string> {
  const { threadForest, formatThreadForest } = await import("./thread-tree.ts");
  let roots = threadForest(await store.list());
  const search = flags.search?.toLowerCase();
  if (search) roots = roots.filter((r) => (r.thread.title ?? "").toLowerCase().includes(search));
  if (flags.limit !== undefined) roots = roots.slice(0, positiveInt("--limit", flags.limit));
  return flags.json ? json(roots) : formatThreadForest(roots);
}

/** The index's warning about a transcript it skipped. */
const NOT_INDEXED = (message: string) => /^thread \S+ is not indexed: /.test(message);

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

interface StorageFlags {
  readonly storage?: string;
  readonly json?: boolean;
}

/**
 * Registers `taifeng threads ls|show|rewind|fork|rebuild`. Each takes `--storage DIR` and
 * `--json`; failures (unknown thread, locked thread, corrupt transcript) exit 1 with the
 * store's message.
 */
export function registerThreadsCommand(program: Command, io: CliIO): void {
  const threads = program.command("threads").description("list, inspect, rewind and fork stored threads");
  const withStorage = (cmd: Command) =>
    cmd
      .option("--storage <dir>", "thread storage directory (default $TAIFENG_STORAGE or ~/.taifeng/threads)")
      .option("--json", "print JSON");
  const using = async (
    flags: StorageFlags,
    fn: (store: JsonlThreadStore) => Promise<string>,
    quiet?: (message: string) => boolean,
  ) => {
    const store = openStorage(flags.storage, io, quiet ? { quiet } : {});
    try {
      io.stdout.write(await fn(store));
    } finally {
      await store.close();
    }
  };

  withStorage(threads.command("ls").description("list threads, most recently updated first"))
    .option("--search <text>", "only threads whose title contains this text")
    .option("--limit <n>", "most threads to list")
    .option("--tree", "show child agents (and forks) indented under the thread that started them")
    .action((flags: StorageFlags & { search?: string; limit?: string; tree?: boolean }) =>
      using(flags, async (store) => {
        if (flags.tree) return listTree(store, flags);
        const list = await store.list({
          ...(flags.search !== undefined ? { search: flags.search } : {}),
          ...(flags.limit !== undefined ? { limit: positiveInt("--limit", flags.limit) } : {}),
        });
        return flags.json ? json(list) : formatList(list);
      }),
    );

  withStorage(threads.command("show").description("show a thread's history as the model sees it"))
    .argument("<id>", "thread id")
    .action((id: string, flags: StorageFlags) =>
      using(flags, async (store) => {
        checkThreadId(store, id);
        if (!(await store.exists(id)))
          throw new TaifengError("thread_not_found", `no thread ${id} in ${store.dir}`);
        // Read before asking the index: a corrupt transcript is then said once, as the error.
        const lines = await store.read(id);
        const replay = replayRollout(lines);
        const thread = (await store.info(id)) ?? summarizeThread(lines);
        if (flags.json) return json({ thread, items: replay.items, turns: replay.turns });
        return formatThread(thread, replay, wantsColor(io.stdout, io.env));
      }),
    );

  withStorage(threads.command("rewind").description("drop the last N turns (appends a rollback line)"))
    .argument("<id>", "thread id")
    .argument("<n>", "turns to drop")
    .action((id: string, n: string, flags: StorageFlags) =>
      using(flags, async (store) => {
        checkThreadId(store, id);
        const turns = positiveInt("N", n);
        const remaining = await rewindThread(store, id, turns);
        return flags.json
          ? json({ threadId: id, rewound: turns, turns: remaining })
          : `rewound ${turns} turn(s) of ${id}; ${remaining} remain\n`;
      }),
    );

  withStorage(threads.command("fork").description("copy a thread up to a turn into a new thread"))
    .argument("<id>", "thread id")
    .option("--at <turn>", "last turn to copy (default: the last ended turn)")
    .action((id: string, flags: StorageFlags & { at?: string }) =>
      using(flags, async (store) => {
        checkThreadId(store, id);
        const fork = await forkThread(
          store,
          id,
          flags.at !== undefined ? { atTurn: positiveInt("--at", flags.at) } : {},
        );
        return flags.json ? json(fork) : `forked ${id} at turn ${fork.turns} -> ${fork.threadId}\n`;
      }),
    );

  threads
    .command("export")
    .description(
      "export a thread as trace records for evaluation (model calls, tool results, turn outcomes; redacted)",
    )
    .argument("<id>", "thread id")
    .option("--storage <dir>", "thread storage directory (default $TAIFENG_STORAGE or ~/.taifeng/threads)")
    .option("--format <format>", "output format: jsonl (one record per line)", "jsonl")
    .option("--delta", "each model call carries only the items added since the previous call")
    .action((id: string, flags: { storage?: string; format: string; delta?: boolean }) =>
      using(flags, async (store) => {
        if (flags.format !== "jsonl") throw new UsageError(`--format must be jsonl, got "${flags.format}"`);
        if (!(await store.exists(id)))
          throw new TaifengError("thread_not_found", `no thread ${id} in ${store.dir}`);
        const [{ exportTrace }, { createRedactor }] = await Promise.all([
          import("../telemetry/trace-export.ts"),
          import("../redact/redactor.ts"),
        ]);
        const records = exportTrace(await store.read(id), {
          redactor: createRedactor({ env: io.env }),
          history: flags.delta ? "delta" : "full",
        });
        return records.map((r) => `${JSON.stringify(r)}\n`).join("");
      }),
    );

  withStorage(
    threads.command("rebuild").description("rebuild the SQLite thread index from the transcripts"),
  ).action((flags: StorageFlags) =>
    using(
      flags,
      async (store) => {
        const report = await store.rebuildIndex();
        if (flags.json) return json(report);
        const skipped = report.skipped.map((s) => `  skipped ${s.threadId}: ${s.error}\n`).join("");
        return `indexed ${report.threads} thread(s) from ${store.dir}${skipped ? `\n${skipped}` : "\n"}`;
        // The report lists every transcript it skipped: no warning says the same again.
      },
      NOT_INDEXED,
    ),
  );
}
