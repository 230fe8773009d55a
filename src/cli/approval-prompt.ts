import { createInterface, type Interface } from "node:readline";
import type { Event, EventMsgOf, Op } from "../protocol/index.ts";

type Request = EventMsgOf<"permission_requested" | "user_input_requested">;

/** The prompting side of `taifeng run` on a terminal. */
export interface Approver {
  /** Feed every engine event; requests are queued and asked one at a time. */
  readonly listener: (ev: Event) => void;
  /** Stops reading the terminal. */
  close(): void;
}

/**
 * Asks permission requests and ask_user questions inline on a terminal: the request goes to
 * `err`, the answer is read as a line from `input`. For a permission: `y` allows once, `a`
 * always (adding the suggested rules), `n` (optionally followed by a reason) denies; an
 * empty line or end of input denies. Answers are submitted after the event callback
 * returns, never from inside it.
 */
export function createApprover(
  engine: { submit(op: Op): unknown },
  input: NodeJS.ReadableStream,
  err: NodeJS.WritableStream,
): Approver {
  let rl: Interface | undefined;
  const lines: string[] = [];
  let waiting: ((line: string | undefined) => void) | undefined;
  let ended = false;
  const reader = () => {
    if (rl) return;
    rl = createInterface({ input, terminal: false });
    rl.on("line", (line) => {
      if (waiting) {
        const w = waiting;
        waiting = undefined;
        w(line);
      } else lines.push(line);
    });
    rl.on("close", () => {
      ended = true;
      waiting?.(undefined);
      waiting = undefined;
    });
  };
  const nextLine = (): Promise<string | undefined> => {
    reader();
    const queued = lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (ended) return Promise.resolve(undefined);
    return new Promise((resolve) => (waiting = resolve));
  };
  let chain = Promise.resolve();
  const ask = async (request: Request) => {
    err.write(promptText(request));
    const line = await nextLine();
    const op = answerOp(request, line);
    try {
      engine.submit(op);
    } catch {
      // the engine closed meanwhile; nothing to answer
    }
  };
  return {
    listener: (ev) => {
      const msg = ev.msg;
      if (msg.type !== "permission_requested" && msg.type !== "user_input_requested") return;
      chain = chain.then(() => ask(msg)).catch(() => {});
    },
    close: () => {
      rl?.close();
    },
  };
}

/** The text that asks a request on the terminal. */
export function promptText(request: Request): string {
  if (request.type === "user_input_requested") {
    const options = request.options?.length ? ` [${request.options.join(" / ")}]` : "";
    return `? ${request.question}${options}\n> `;
  }
  const input = JSON.stringify(request.input) ?? "";
  const shown = input.length > 200 ? `${input.slice(0, 199)}…` : input;
  const always = request.suggestions.length > 0 ? `, a = always (${request.suggestions.join(", ")})` : "";
  return `? ${request.tool} ${shown}\n  ${request.reason ?? "needs approval"}\n  allow? y = yes${always}, n = no [n]: `;
}

/** The op answering a request, from the line typed (undefined = end of input). */
export function answerOp(request: Request, line: string | undefined): Op {
  if (request.type === "user_input_requested") {
    return { type: "user_input_answer", requestId: request.requestId, answer: (line ?? "").trim() };
  }
  const text = (line ?? "").trim();
  const word = text.split(/\s+/)[0]?.toLowerCase() ?? "";
  if (word === "y" || word === "yes")
    return { type: "approval", requestId: request.requestId, decision: "allow_once" };
  if ((word === "a" || word === "always") && request.suggestions.length > 0) {
    return { type: "approval", requestId: request.requestId, decision: "allow_always" };
  }
  const reason = word === "n" || word === "no" ? text.slice(word.length).trim() : "";
  return {
    type: "approval",
    requestId: request.requestId,
    decision: "deny",
    ...(reason !== "" ? { reason } : line === undefined ? { reason: "no answer (end of input)" } : {}),
  };
}
