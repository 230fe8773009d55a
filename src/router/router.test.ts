import { describe, expect, it } from "vitest";
import { shape } from "../../test/helpers/events.ts";
import { SimClient } from "../llm/sim/sim-client.ts";
import type { ModelRequest } from "../llm/types.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { Event, EventMsgOf } from "../protocol/index.ts";
import { createCircuitBreaker } from "../reliability/breaker.ts";
import { type Candidate, decideRoute, type RouteInput } from "./decide.ts";
import { createRouter } from "./router.ts";

const cand = (id: string, extra: Partial<Candidate> = {}): Candidate => ({
  id,
  modalities: new Set(),
  contextWindow: 100_000,
  intents: undefined,
  cost: 1,
  breaker: "closed",
  recentErrors: 0,
  ...extra,
});

const input = (extra: Partial<RouteInput>): RouteInput => ({
  profile: "default",
  candidates: [],
  needs: new Set(),
  tokens: 1_000,
  label: undefined,
  budgetLeft: undefined,
  downgradeBelow: 0.2,
  errorThreshold: 3,
  ...extra,
});

const req = (text: string, extra: Partial<ModelRequest> = {}): ModelRequest => ({
  system: "s",
  items: [{ type: "message", role: "user", content: [{ type: "text", text }] }],
  tools: [],
  threadId: "t1",
  ...extra,
});

describe("decideRoute (the rules, in order)", () => {
  it("modality, then context length, then intent, then availability, then profile order", () => {
    const d = decideRoute(
      input({
        candidates: [
          cand("a:text-only"),
          cand("b:small", { modalities: new Set(["image"]), contextWindow: 8_000 }),
          cand("c:vision-chat", { modalities: new Set(["image"]), intents: new Set(["chat"]) }),
          cand("d:vision-open", { modalities: new Set(["image"]), breaker: "open" }),
          cand("e:vision-code", { modalities: new Set(["image"]), intents: new Set(["code"]) }),
        ],
        needs: new Set(["image"]),
        tokens: 20_000,
        label: "code",
      }),
    );
    expect(d).toEqual({
      chosen: "e:vision-code",
      reasons: [
        "modality: needs image",
        "context: ~20000 tokens",
        "intent: code",
        "profile default: first eligible",
      ],
      skipped: [
        { model: "a:text-only", reason: "cannot read image" },
        { model: "b:small", reason: "context window 8000 < 20000 tokens needed" },
        { model: "c:vision-chat", reason: 'does not serve intent "code"' },
        { model: "d:vision-open", reason: "circuit open" },
      ],
    });
  });

  it("downgrades to the cheapest eligible model when the budget runs low", () => {
    const candidates = [
      cand("x:deep", { cost: 15 }),
      cand("y:mid", { cost: 3 }),
      cand("z:cheap", { cost: 0.1 }),
    ];
    expect(decideRoute(input({ candidates, budgetLeft: 0.5 })).chosen).toBe("x:deep");
    const low = decideRoute(input({ candidates, budgetLeft: 0.1 }));
    expect(low.chosen).toBe("z:cheap");
    expect(low.reasons.at(-1)).toBe("budget: 10% left < 20%: cheapest");
  });

  it("passes over a model with recent errors only while a healthy one remains", () => {
    const bad = cand("a:flaky", { recentErrors: 3 });
    expect(decideRoute(input({ candidates: [bad, cand("b:ok")] })).chosen).toBe("b:ok");
    expect(decideRoute(input({ candidates: [bad] })).chosen).toBe("a:flaky");
  });

  it("an intent nobody declares is ignored, but nothing outranks an open breaker", () => {
    const d = decideRoute(
      input({ candidates: [cand("a:one", { intents: new Set(["chat"]) })], label: "vision" }),
    );
    expect(d.chosen).toBe("a:one");
    expect(d.reasons).toContain("intent: vision (no model declares it; ignored)");
    const none = decideRoute(input({ candidates: [cand("a:one", { breaker: "open" })] }));
    expect(none).toEqual({
      chosen: undefined,
      reasons: ["context: ~1000 tokens"],
      skipped: [{ model: "a:one", reason: "circuit open" }],
    });
  });

  it("is deterministic: the same input gives the same decision", () => {
    const i = input({ candidates: [cand("a:1"), cand("b:2", { cost: 0 })], budgetLeft: 0.05, label: "x" });
    expect(decideRoute(i)).toEqual(decideRoute(i));
  });
});

describe("ModelRouter in an engine", () => {
  it("routes by context length and modality, each decision a model_routed event", async () => {
    const small = new SimClient({ name: "small", script: [{ text: "small answer" }] });
    const big = new SimClient({ name: "big", script: [{ text: "big answer" }, { text: "big again" }] });
    const router = createRouter({
      models: [
        { client: small, contextWindow: 200 },
        { client: big, contextWindow: 1_000_000, modalities: ["image"] },
      ],
    });
    const events: Event[] = [];
    const engine = await AgentEngine.open({
      model: router.client(),
      listeners: [(e) => events.push(e)],
      context: false,
    });
    await engine.submitAndWait("hi");
    await engine.submitAndWait("x".repeat(2_000));
    await engine.close();
    const routed = events
      .filter((e) => e.msg.type === "model_routed")
      .map((e) => e.msg as EventMsgOf<"model_routed">);
    expect(routed.map((r) => r.chosen)).toEqual(["sim:small", "sim:big"]);
    expect(routed[1]?.skipped[0]?.model).toBe("sim:small");
    expect(routed[1]?.skipped[0]?.reason).toMatch(/^context window 200 < \d+ tokens needed$/);
    expect(shape(events).slice(0, 7)).toEqual([
      "thread_opened",
      "turn_started",
      'user_message input "hi"',
      "model_call_started 1",
      "model_routed",
      'assistant_text "small "',
      'assistant_text "answer"',
    ]);
    expect(
      router.decide(
        "default",
        req("look", {
          items: [
            {
              type: "message",
              role: "user",
              content: [{ type: "image", mediaType: "image/png", data: "AA==" }],
            },
          ],
        }),
      ).chosen,
    ).toBe("sim:big");
  });

  it("switches profile at runtime with override_context and reads breaker state", async () => {
    const deep = new SimClient({ name: "deep", script: [{ error: { code: "server" } }, { text: "deep" }] });
    const cheap = new SimClient({ name: "cheap", script: [{ text: "cheap one" }, { text: "cheap two" }] });
    const breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000 });
    const router = createRouter({
      models: [{ client: breaker.wrap(deep) }, { client: breaker.wrap(cheap) }],
      profiles: { budget: ["sim:cheap", "sim:deep"] },
      breakerState: (id) => breaker.state(id),
    });
    const events: Event[] = [];
    const engine = await AgentEngine.open({
      model: router.client(),
      resolveModel: router.resolver(),
      listeners: [(e) => events.push(e)],
      context: false,
    });
    await engine.submitAndWait("first"); // deep fails: its breaker opens
    await engine.submitAndWait("second"); // deep is open: cheap serves
    await engine.submit({ type: "override_context", model: "router:budget" });
    await engine.submitAndWait("third");
    await engine.close();
    const routed = events
      .filter((e) => e.msg.type === "model_routed")
      .map((e) => e.msg as EventMsgOf<"model_routed">);
    expect(routed.map((r) => `${r.profile} ${r.chosen}`)).toEqual([
      "default sim:deep",
      "default sim:cheap",
      "budget sim:cheap",
    ]);
    expect(routed[1]?.skipped).toEqual([{ model: "sim:deep", reason: "circuit open" }]);
    expect(() => router.client("nope")).toThrow(/unknown router profile "nope" \(known: default, budget\)/);
  });

  it("says which model is missing when no candidate is left", async () => {
    const only = new SimClient({ name: "tiny", script: [{ text: "x" }] });
    const router = createRouter({ models: [{ client: only, contextWindow: 10 }] });
    const events: Event[] = [];
    const engine = await AgentEngine.open({
      model: router.client(),
      listeners: [(e) => events.push(e)],
      context: false,
    });
    await engine.submitAndWait("a long enough question to exceed ten tokens of context window");
    await engine.close();
    const failed = events.find((e) => e.msg.type === "turn_failed")?.msg as EventMsgOf<"turn_failed">;
    expect(failed.error.code).toBe("no_model_available");
    expect(failed.error.message).toMatch(/sim:tiny: context window 10 < \d+ tokens needed/);
  });
});
