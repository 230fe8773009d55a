import type { ToolSpec } from "../llm/types.ts";
import type { ResponseItem } from "../protocol/index.ts";

/** Counts the tokens of a text. Implementations must be pure and deterministic. */
export interface TokenCounter {
  /** `o200k_base`, `cl100k_base` or `heuristic`. */
  readonly name: string;
  /** True when counts match the provider's tokenizer (not an estimate). */
  readonly exact: boolean;
  count(text: string): number;
}

const isLower = (c: number) => (c >= 97 && c <= 122) || (c >= 0xdf && c < 0x250 && c !== 0xf7);
const isUpper = (c: number) => (c >= 65 && c <= 90) || (c >= 0xc0 && c < 0xdf && c !== 0xd7);
const isDigit = (c: number) => c >= 48 && c <= 57;
const isSpace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;
/** ASCII punctuation and symbols (printable, not a letter, digit or space). */
const isPunct = (c: number) => c > 32 && c < 127 && !isDigit(c) && !isLower(c) && !isUpper(c);

/**
 * Tokens of one character outside ASCII and Latin letters: CJK ideographs about one each;
 * kana, hangul and other alphabets less; astral characters (emoji, their skin tones) and
 * the joiners and selectors that glue emoji sequences together, more.
 */
function wideCost(c: number): number {
  if (c >= 0xd800 && c <= 0xdbff) return 2.5;
  if (c === 0x200d || (c >= 0xfe00 && c <= 0xfe0f)) return 1;
  if (c >= 0xac00 && c <= 0xd7af) return 0.65; // hangul syllables
  if (c >= 0x3040 && c <= 0x30ff) return 0.8; // kana
  if ((c >= 0x2e80 && c <= 0x9fff) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xff00 && c <= 0xffef)) return 1;
  if (c >= 0x400 && c <= 0x52f) return 0.25; // Cyrillic
  if (c >= 0x600 && c <= 0x6ff) return 0.35; // Arabic
  return 0.45; // Thai, Devanagari, Greek, Hebrew, symbols...
}

/**
 * A tokenizer-free estimate that errs on the high side: used before any provider has
 * reported real counts, an estimate that is too low lets a prompt overflow the window. It
 * follows how BPE tokenizers cut text: a Latin word is one token up to five letters and
 * grows slowly after that (case changes and accented letters cost extra); digits go in
 * groups of three; each run of punctuation, whitespace or digits costs at least one token
 * (JSON and code are mostly such runs); other scripts and emoji are priced per character.
 * Measured against o200k_base (src/context/tokens.test.ts) it is at or above the exact
 * count on English, code, JSON, CJK, Thai, Hindi, Arabic, Cyrillic and emoji, and rarely
 * more than 1.5x. Calibration (TokenEstimator) then corrects it from provider usage. A plain
 * loop, not a regular expression: it runs on every new history item.
 */
const HEURISTIC: TokenCounter = {
  name: "heuristic",
  exact: false,
  count(text: string): number {
    const n = text.length;
    let t = 0;
    let i = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (isLower(c) || isUpper(c)) {
        let j = i + 1;
        let shifts = 0;
        let accents = c >= 0xc0 ? 1 : 0;
        let lower = isLower(c);
        for (; j < n; j++) {
          const d = text.charCodeAt(j);
          const low = isLower(d);
          if (!low && !isUpper(d)) break;
          if (d >= 0xc0) accents++;
          if (lower && !low) shifts++;
          lower = low;
        }
        const len = j - i;
        t += 1 + (len > 5 ? (len - 5) / 5 : 0) + (shifts + accents) * 0.5;
        i = j;
      } else if (isDigit(c)) {
        let j = i + 1;
        while (j < n && isDigit(text.charCodeAt(j))) j++;
        t += Math.ceil((j - i) / 3);
        i = j;
      } else if (isSpace(c)) {
        let j = i + 1;
        while (j < n && isSpace(text.charCodeAt(j))) j++;
        if (j - i === 1 && c === 32) {
          // One space usually joins the word after it; less often a number or symbol.
          const next = j < n ? text.charCodeAt(j) : 0;
          if (next === 0 || isDigit(next)) t += 1;
          else if (isPunct(next)) t += 0.5;
        } else t += 1 + Math.floor((j - i) / 8);
        i = j;
      } else if (isPunct(c)) {
        let j = i + 1;
        while (j < n && isPunct(text.charCodeAt(j))) j++;
        t += 1 + (j - i - 1) / 2;
        i = j;
      } else {
        t += wideCost(c);
        i += c >= 0xd800 && c <= 0xdbff && i + 1 < n ? 2 : 1;
      }
    }
    return Math.ceil(t);
  },
};

/** The calibrated heuristic counter (stateless; one shared instance). */
export function heuristicCounter(): TokenCounter {
  return HEURISTIC;
}

/** Which offline tokenizer an OpenAI model id uses, or undefined when none applies. */
export function openaiEncodingFor(modelId: string): "o200k_base" | "cl100k_base" | undefined {
  const model = modelId.includes(":") ? modelId.slice(modelId.indexOf(":") + 1) : modelId;
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o|gpt-oss)/.test(model)) return "o200k_base";
  if (/^(gpt-4|gpt-3\.5|text-embedding-3|text-embedding-ada)/.test(model)) return "cl100k_base";
  return undefined;
}

/**
 * The exact tokenizer of an OpenAI encoding, loaded lazily (the tables weigh megabytes and
 * take a few hundred milliseconds to load).
 */
export async function openaiCounter(encoding: "o200k_base" | "cl100k_base"): Promise<TokenCounter> {
  const mod =
    encoding === "o200k_base"
      ? await import("gpt-tokenizer/encoding/o200k_base")
      : await import("gpt-tokenizer/encoding/cl100k_base");
  return { name: encoding, exact: true, count: (text) => mod.countTokens(text) };
}

/**
 * The best counter for a model id: exact for OpenAI families (loaded on first use, hence the
 * promise), the heuristic otherwise (returned as is: engines open without waiting for it).
 */
export function counterFor(modelId: string): TokenCounter | Promise<TokenCounter> {
  const encoding = openaiEncodingFor(modelId);
  return encoding ? openaiCounter(encoding) : heuristicCounter();
}

/** Framing tokens every message or item costs on top of its text (role, separators). */
const ITEM_OVERHEAD = 4;

// Tool specs are shared by every engine using the same tools (toolSpec returns one object per
// tool), so their counts are memoized across estimators, per counter.
const specCounts = new WeakMap<ToolSpec, Map<string, number>>();

function specTokens(spec: ToolSpec, counter: TokenCounter): number {
  let byCounter = specCounts.get(spec);
  if (!byCounter) {
    byCounter = new Map();
    specCounts.set(spec, byCounter);
  }
  let n = byCounter.get(counter.name);
  if (n === undefined) {
    n =
      ITEM_OVERHEAD + counter.count(`${spec.name}\n${spec.description}\n${JSON.stringify(spec.parameters)}`);
    byCounter.set(counter.name, n);
  }
  return n;
}

/**
 * Estimates the token size of prompts. Item counts are cached per item object (items are
 * never mutated), so re-estimating a growing history costs only the new items. A per-thread
 * calibration factor, learned from the input tokens providers report, corrects the
 * estimate of an inexact counter.
 */
export class TokenEstimator {
  readonly counter: TokenCounter;
  // Created on first use: the engine's hot path (history, tools) never needs the item cache.
  private itemCache: WeakMap<object, number> | undefined;
  private lastTools: readonly ToolSpec[] | undefined;
  private lastToolsTokens = 0;
  private ratio = 1;
  private memo:
    | { items: readonly ResponseItem[]; generation: number; length: number; sum: number }
    | undefined;
  private lastText = "";
  private lastTextTokens = 0;
  private samples = 0;

  constructor(counter: TokenCounter = heuristicCounter()) {
    this.counter = counter;
  }

  /** Tokens of one text. The last text counted is remembered (the system prompt, every call). */
  text(text: string): number {
    if (text === this.lastText) return this.lastTextTokens;
    const n = this.counter.count(text);
    this.lastText = text;
    this.lastTextTokens = n;
    return n;
  }

  private uncached(item: ResponseItem): number {
    return this.itemCache?.get(item) ?? ITEM_OVERHEAD + this.counter.count(itemText(item));
  }

  /** Raw (uncalibrated) tokens of one history item. */
  item(item: ResponseItem): number {
    this.itemCache ??= new WeakMap();
    const cached = this.itemCache.get(item);
    if (cached !== undefined) return cached;
    const n = ITEM_OVERHEAD + this.counter.count(itemText(item));
    this.itemCache.set(item, n);
    return n;
  }

  /** Raw tokens of the tool definitions. */
  tools(tools: readonly ToolSpec[]): number {
    // The same list comes back on every call of a thread (ToolSet.specs is memoized).
    if (tools === this.lastTools) return this.lastToolsTokens;
    let n = 0;
    for (const t of tools) n += specTokens(t, this.counter);
    this.lastTools = tools;
    this.lastToolsTokens = n;
    return n;
  }

  /** Raw tokens of a list of items. */
  items(items: readonly ResponseItem[], from = 0, to = items.length): number {
    let n = 0;
    for (let i = from; i < to; i++) n += this.item(items[i] as ResponseItem);
    return n;
  }

  /**
   * Raw tokens of a live, append-only history. The total is kept between calls and only new
   * items are counted, as long as `generation` (bumped on every rewrite) is unchanged.
   */
  history(items: readonly ResponseItem[], generation: number): number {
    const m = this.memo;
    if (m && m.items === items && m.generation === generation && items.length >= m.length) {
      if (items.length > m.length) {
        // Counted without the per-item cache: the running total is all the hot path needs,
        // and a WeakMap entry per history item is real work for the garbage collector.
        for (let i = m.length; i < items.length; i++) m.sum += this.uncached(items[i] as ResponseItem);
        m.length = items.length;
      }
      return m.sum;
    }
    let sum = 0;
    for (const item of items) sum += this.uncached(item);
    this.memo = { items, generation, length: items.length, sum };
    return sum;
  }

  /** Calibrated estimate of a whole prompt. */
  prompt(system: string, tools: readonly ToolSpec[], items: readonly ResponseItem[]): number {
    return Math.round(this.raw(system, tools, items) * this.ratio);
  }

  /** Uncalibrated size of a whole prompt. */
  raw(system: string, tools: readonly ToolSpec[], items: readonly ResponseItem[]): number {
    return this.text(system) + this.tools(tools) + this.items(items);
  }

  /** The current calibration factor (reported / estimated). */
  get calibration(): number {
    return this.ratio;
  }

  /**
   * Learns from a provider's report: `reported` input tokens for a prompt estimated at
   * `estimatedRaw` raw tokens. An exponential moving average, clamped to [0.5, 2] so one odd
   * report cannot derail budgets. `weight` (0..1) overrides the average's weight, e.g. 1 for
   * the provider's own count of the prompt it just rejected as too long.
   */
  calibrate(estimatedRaw: number, reported: number, weight?: number): void {
    if (estimatedRaw <= 0 || reported <= 0) return;
    const observed = Math.min(2, Math.max(0.5, reported / estimatedRaw));
    this.samples++;
    const alpha = weight ?? (this.samples === 1 ? 1 : 0.3);
    this.ratio = this.ratio + alpha * (observed - this.ratio);
  }
}

/** The text of an item as a model would read it (images count as a fixed 1,000 tokens' worth). */
export function itemText(item: ResponseItem): string {
  switch (item.type) {
    case "message": {
      let out = "";
      for (const part of item.content) out += part.type === "text" ? part.text : IMAGE_PLACEHOLDER;
      return out;
    }
    case "reasoning":
      return item.text;
    case "function_call":
      return `${item.name}(${item.arguments})`;
    case "function_call_output":
      if (typeof item.output === "string") return item.output;
      return item.output.map((p) => (p.type === "text" ? p.text : IMAGE_PLACEHOLDER)).join("");
    case "compaction":
      return item.summary;
  }
}

const IMAGE_PLACEHOLDER = "x".repeat(4000);
