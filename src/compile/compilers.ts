/**
 * Per-family prompt compilation: the kernel builds one provider-neutral ModelRequest; a small
 * compiler reshapes it for a model family. Every compiler is a pure function of the request
 * that treats each part on its own (the system prompt, each tool, each history item), so a
 * request that extends the previous one compiles to a request that extends the previous
 * compiled one: the stable-prefix guarantee holds with any compiler.
 */
import type { ModelRequest, ToolSpec } from "../llm/types.ts";
import type { ResponseItem } from "../protocol/index.ts";

/** The families with a compiler. */
export type PromptFamily = "claude" | "glm" | "cache_priced" | "reasoning";

/** A compiler: a pure reshaping of one request. */
export interface PromptCompiler {
  readonly family: PromptFamily;
  compile(request: ModelRequest): ModelRequest;
}

const HEADING = /^#{1,3}\s+(.+?)\s*#*\s*$/;

function tagOf(title: string): string {
  const slug = title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return slug === "" || /^[0-9]/.test(slug) ? `section_${slug}` : slug;
}

/**
 * Claude: the system prompt as XML sections (Anthropic's guidance: tags separate instructions
 * from context). Text before the first Markdown heading goes into `<instructions>`, each
 * `#`/`##`/`###` heading opens a section named after it. Injected `system` messages in the
 * history are sent as user turns wrapped in `<system-reminder>`, keeping the system prompt the
 * one place for standing instructions. A system prompt that already holds XML tags is kept.
 */
export function claudeCompiler(): PromptCompiler {
  const cache = new Map<string, string>();
  return {
    family: "claude",
    compile(request) {
      let system = cache.get(request.system);
      if (system === undefined) {
        system = xmlSections(request.system);
        if (cache.size > 64) cache.clear();
        cache.set(request.system, system);
      }
      return { ...request, system, items: mapItems(request.items, reminder) };
    },
  };
}

function xmlSections(system: string): string {
  if (system.trim() === "" || /<[a-z_][a-z0-9_-]*>/i.test(system)) return system;
  const sections: { tag: string; lines: string[] }[] = [{ tag: "instructions", lines: [] }];
  for (const line of system.split("\n")) {
    const h = HEADING.exec(line);
    if (h) sections.push({ tag: tagOf(h[1] as string), lines: [] });
    else (sections.at(-1) as { lines: string[] }).lines.push(line);
  }
  return sections
    .map((s) => ({ tag: s.tag, body: s.lines.join("\n").trim() }))
    .filter((s) => s.body !== "")
    .map((s) => `<${s.tag}>\n${s.body}\n</${s.tag}>`)
    .join("\n\n");
}

function reminder(item: ResponseItem): ResponseItem {
  if (item.type !== "message" || item.role !== "system") return item;
  const text = item.content.map((p) => (p.type === "text" ? p.text : "")).join("");
  return {
    ...item,
    role: "user",
    content: [{ type: "text", text: `<system-reminder>\n${text}\n</system-reminder>` }],
  };
}

/** Compiles each item on its own (so a longer history compiles to a longer prefix-equal one). */
function mapItems(items: readonly ResponseItem[], f: (item: ResponseItem) => ResponseItem): ResponseItem[] {
  return items.map(f);
}

const KEY = /^(IMPORTANT|KEY)\b[:\s]/;

/**
 * GLM: the key instruction last. Paragraphs of the system prompt that start with `IMPORTANT`
 * or `KEY:` move to its end (GLM models weigh the most recent instructions most), in their
 * order. Only the system prompt changes, so every turn compiles it the same way.
 */
export function glmCompiler(): PromptCompiler {
  return {
    family: "glm",
    compile(request) {
      const paragraphs = request.system.split(/\n{2,}/);
      const key = paragraphs.filter((p) => KEY.test(p.trimStart()));
      if (key.length === 0) return request;
      const rest = paragraphs.filter((p) => !KEY.test(p.trimStart()));
      return { ...request, system: [...rest, ...key].join("\n\n") };
    },
  };
}

/** JSON with object keys sorted (arrays keep their order). */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) out[k] = canonical((value as Record<string, unknown>)[k]);
  return out;
}

/**
 * Cache-priced models (DeepSeek, and any provider whose cache hits are billed far below
 * misses): a layout that keeps the cached prefix byte-stable whatever the host did. Tools are
 * sorted by name with their schemas' keys in canonical order, trailing spaces are stripped
 * from system lines and line endings normalized, so that two engines (or two processes)
 * building the same prompt send the same bytes and share the provider's cache.
 */
export function cachePricedCompiler(): PromptCompiler {
  const tools = new WeakMap<readonly ToolSpec[], readonly ToolSpec[]>();
  return {
    family: "cache_priced",
    compile(request) {
      let sorted = tools.get(request.tools);
      if (!sorted) {
        sorted = [...request.tools]
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
          .map((t) => ({ ...t, parameters: canonical(t.parameters) as Record<string, unknown> }));
        tools.set(request.tools, sorted);
      }
      const system = request.system.replace(/\r\n?/g, "\n").replace(/[ \t]+$/gm, "");
      return { ...request, system, tools: sorted };
    },
  };
}

/** Options of the reasoning compiler. */
export interface ReasoningCompilerOptions {
  /** Smallest output allowance sent (reasoning tokens count against it). Default 4,096. */
  readonly minOutputTokens?: number;
}

/**
 * Reasoning models (OpenAI o-series and GPT-5, Claude with thinking, DeepSeek reasoner):
 * `temperature` is dropped (they reject or ignore it) and a set output allowance is raised to
 * at least `minOutputTokens`, since hidden reasoning is billed against it. The effort or
 * thinking budget itself is a provider option of the model spec (`reasoning_effort`,
 * `thinking`), see the providers guide.
 */
export function reasoningCompiler(options: ReasoningCompilerOptions = {}): PromptCompiler {
  const min = options.minOutputTokens ?? 4_096;
  return {
    family: "reasoning",
    compile(request) {
      if (
        request.temperature === undefined &&
        (request.maxOutputTokens === undefined || request.maxOutputTokens >= min)
      )
        return request;
      const { temperature: _t, ...rest } = request;
      return {
        ...rest,
        ...(request.maxOutputTokens !== undefined
          ? { maxOutputTokens: Math.max(min, request.maxOutputTokens) }
          : {}),
      };
    },
  };
}

/** The compiler of a family. */
export function compilerOf(family: PromptFamily): PromptCompiler {
  switch (family) {
    case "claude":
      return claudeCompiler();
    case "glm":
      return glmCompiler();
    case "cache_priced":
      return cachePricedCompiler();
    case "reasoning":
      return reasoningCompiler();
  }
}
