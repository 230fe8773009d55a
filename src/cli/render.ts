import type { Event, ToolOutput } from "../protocol/index.ts";
import { toolOutputText } from "../protocol/index.ts";

/** Where and how to print. */
export interface RenderTarget {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  readonly color: boolean;
}

const paint = (on: boolean, code: string) => (s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s);

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function outputPreview(output: ToolOutput): string {
  const text = toolOutputText(output);
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const head = oneLine(lines[0] ?? "(no output)", 100);
  return lines.length > 1 ? `${head} (+${lines.length - 1} lines)` : head;
}

/**
 * Human rendering of an event stream: assistant text streams to `out`; tool calls, warnings
 * and the turn summary go to `err` in compact form, so `out` can be piped.
 */
export function createRenderer(target: RenderTarget): (ev: Event) => void {
  const dim = paint(target.color, "2");
  const red = paint(target.color, "31");
  const cyan = paint(target.color, "36");
  const yellow = paint(target.color, "33");
  let midLine = false;
  const endLine = () => {
    if (midLine) target.out.write("\n");
    midLine = false;
  };
  return (ev) => {
    const msg = ev.msg;
    switch (msg.type) {
      case "assistant_text":
        target.out.write(msg.delta);
        midLine = !msg.delta.endsWith("\n");
        break;
      case "tool_call_started":
        endLine();
        target.err.write(`${cyan("⏺")} ${msg.name} ${dim(oneLine(JSON.stringify(msg.input) ?? "", 100))}\n`);
        break;
      case "tool_call_completed": {
        endLine();
        const mark = msg.isError ? red(`✗ ${msg.status}`) : dim("⎿");
        target.err.write(
          `  ${mark} ${msg.name}: ${dim(outputPreview(msg.output))} ${dim(`(${Math.round(msg.durationMs)} ms)`)}\n`,
        );
        break;
      }
      case "skill_started":
        endLine();
        target.err.write(
          `${cyan("◆")} skill ${msg.name}${msg.depth > 0 ? dim(` (in ${(msg.chain ?? []).join(" > ")})`) : ""}\n`,
        );
        break;
      case "skill_completed":
        endLine();
        target.err.write(
          `  ${msg.ok ? dim("◇") : red("✗")} skill ${msg.name}${msg.ok ? "" : `: ${oneLine(msg.error ?? "failed", 100)}`} ${dim(`(${Math.round(msg.durationMs)} ms)`)}\n`,
        );
        break;
      case "model_retry":
        endLine();
        target.err.write(
          yellow(
            `↻ retrying model call (attempt ${msg.attempt}) in ${msg.delayMs} ms: ${msg.error.message}\n`,
          ),
        );
        break;
      case "compaction_completed":
        endLine();
        target.err.write(
          dim(
            `⇣ compacted (${msg.strategy}, ${msg.trigger}): ${msg.tokensBefore} → ${msg.tokensAfter} tokens, ${msg.cachedTokensInvalidated} cached tokens invalidated\n`,
          ),
        );
        break;
      case "warning":
        endLine();
        target.err.write(yellow(`! ${msg.message}\n`));
        break;
      case "error":
        endLine();
        target.err.write(red(`error: ${msg.error.message}\n`));
        break;
      case "mcp_server_failed":
        endLine();
        target.err.write(red(`✗ MCP server ${msg.server} failed: ${oneLine(msg.error, 160)}\n`));
        break;
      case "turn_completed": {
        endLine();
        const u = msg.usage;
        target.err.write(
          dim(
            `✓ done in ${msg.steps} step(s), ${msg.durationMs} ms · tokens in ${u.inputTokens} (cached ${u.cachedInputTokens}) out ${u.outputTokens}\n`,
          ),
        );
        break;
      }
      case "turn_failed":
        endLine();
        target.err.write(red(`✗ turn failed (${msg.error.code}): ${msg.error.message}\n`));
        break;
      case "turn_aborted":
        endLine();
        target.err.write(yellow(`■ turn aborted: ${msg.message}\n`));
        break;
      default:
        break;
    }
  };
}
