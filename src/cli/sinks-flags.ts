/**
 * `taifeng run --events-jsonl DIR` and `--events-console`: the event bus sinks of
 * src/telemetry, off the turn's path, seeing only redacted events.
 */
import { resolve } from "node:path";
import type { Redactor } from "../redact/types.ts";
import { consoleSink } from "../telemetry/console-sink.ts";
import { jsonlSink } from "../telemetry/jsonl-sink.ts";
import { createSinks, type EventSink, type SinkHub } from "../telemetry/sinks.ts";
import type { CliIO } from "./io.ts";

/** The sink flags of `taifeng run`. */
export interface SinkFlags {
  /** A folder for one `<thread>.events.jsonl` per thread, rotated by size. */
  readonly eventsJsonl?: string;
  /** One line per event on stderr. */
  readonly eventsConsole?: boolean;
}

/** The sink hub the flags ask for (attach `listener`, `close()` before exiting), or undefined. */
export function cliSinks(flags: SinkFlags, io: CliIO, redactor: Redactor): SinkHub | undefined {
  const sinks: EventSink[] = [];
  if (flags.eventsJsonl !== undefined)
    sinks.push(jsonlSink({ dir: resolve(io.cwd, flags.eventsJsonl), per: "thread" }));
  if (flags.eventsConsole === true) sinks.push(consoleSink({ out: io.stderr }));
  return sinks.length > 0 ? createSinks(sinks, { redactor }) : undefined;
}
