import { describe, expect, it } from "vitest";
import { withFallback } from "../../src/llm/fallback.ts";
import { withRetry } from "../../src/llm/retry.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { type BreakerNotice, createCircuitBreaker } from "../../src/reliability/breaker.ts";
import { recorder, shape } from "../helpers/events.ts";

describe("circuit breaker", () => {
  it("opens after consecutive failures, sends calls down the fallback chain, probes after the cooldown and closes", async () => {
    let now = 0;
    const notices: BreakerNotice[] = [];
    const breaker = createCircuitBreaker({
      failureThreshold: 2,
      cooldownMs: 1_000,
      now: () => now,
      onNotice: (n) => notices.push(n),
    });
    const primary = new SimClient({
      name: "primary",
      script: [{ error: { code: "server" } }, { error: { code: "overloaded" } }, { text: ["primary back"] }],
    });
    const backup = new SimClient({
      name: "backup",
      script: [{ text: ["b1"] }, { text: ["b2"] }, { text: ["b3"] }],
    });
    const rec = recorder();
    const engine = await AgentEngine.open({
      model: withFallback([breaker.wrap(withRetry(primary, { maxAttempts: 1 })), breaker.wrap(backup)]),
      cwd: "/tmp",
      listeners: [breaker.listener, rec.listener],
    });
    const turn = async (prompt: string) => {
      const from = rec.events.length;
      await engine.submitAndWait(prompt);
      return shape(rec.events.slice(from)).filter((l) => !l.startsWith("assistant_"));
    };
    // 1: the primary fails once (closed, 1 failure); the backup answers.
    expect(await turn("1")).toEqual([
      "turn_started",
      'user_message input "1"',
      "model_call_started 1",
      "model_retry",
      "model_call_completed 1 stop",
      "turn_completed",
    ]);
    // 2: a second consecutive failure opens the primary's breaker; the warning lands in this turn.
    expect(await turn("2")).toEqual([
      "turn_started",
      'user_message input "2"',
      "model_call_started 1",
      "model_retry",
      "warning circuit_open",
      "model_call_completed 1 stop",
      "turn_completed",
    ]);
    expect(breaker.state("sim:primary")).toBe("open");
    // 3: open: the primary is not called at all (its next scripted step stays unused).
    const third = rec.events.length;
    expect(await turn("3")).toEqual([
      "turn_started",
      'user_message input "3"',
      "model_call_started 1",
      "model_retry",
      "model_call_completed 1 stop",
      "turn_completed",
    ]);
    const retry = rec.events.slice(third).find((e) => e.msg.type === "model_retry")?.msg;
    expect(retry).toMatchObject({ error: { code: "circuit_open", source: "model", retryable: false } });
    // 4: after the cooldown one probe goes through, succeeds and closes the breaker.
    now = 1_000;
    expect(breaker.state("sim:primary")).toBe("half_open");
    expect(await turn("4")).toEqual([
      "turn_started",
      'user_message input "4"',
      "model_call_started 1",
      "model_call_completed 1 stop",
      "warning circuit_half_open",
      "warning circuit_closed",
      "turn_completed",
    ]);
    expect(rec.events.at(-1)?.msg).toMatchObject({ type: "turn_completed", text: "primary back" });
    expect(notices.map((n) => `${n.model} ${n.kind}`)).toEqual([
      "sim:primary opened",
      "sim:primary half_opened",
      "sim:primary closed",
    ]);
    await engine.close();
  });

  it("fails fast with a classified turn_failed when there is no fallback, and re-opens on a failed probe", async () => {
    let now = 0;
    const breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 500, now: () => now });
    const sim = new SimClient({ script: [{ error: { code: "timeout" } }, { error: { code: "server" } }] });
    const rec = recorder();
    const engine = await AgentEngine.open({
      model: breaker.wrap(sim),
      cwd: "/tmp",
      listeners: [breaker.listener, rec.listener],
    });
    await engine.submitAndWait("a");
    await engine.submitAndWait("b");
    now = 500;
    await engine.submitAndWait("c");
    expect(shape(rec.events.slice(1))).toEqual([
      "turn_started",
      'user_message input "a"',
      "model_call_started 1",
      "model_call_completed 1 error",
      "warning circuit_open",
      "turn_failed timeout",
      "turn_started",
      'user_message input "b"',
      "model_call_started 1",
      "model_call_completed 1 error",
      "turn_failed circuit_open",
      "turn_started",
      'user_message input "c"',
      "model_call_started 1",
      "model_call_completed 1 error",
      "warning circuit_half_open",
      "warning circuit_open",
      "turn_failed server",
    ]);
    expect(breaker.state("sim:script")).toBe("open");
    await engine.close();
  });

  it("does not count a bad request against the provider, and reports slow calls as advisories", async () => {
    let now = 0;
    const breaker = createCircuitBreaker({ failureThreshold: 1, slowCallMs: 100, now: () => (now += 60) });
    const sim = new SimClient({ script: [{ error: { code: "invalid_request" } }, { text: ["ok"] }] });
    const rec = recorder();
    const engine = await AgentEngine.open({
      model: breaker.wrap(sim),
      cwd: "/tmp",
      listeners: [breaker.listener, rec.listener],
    });
    await engine.submitAndWait("a");
    await engine.submitAndWait("b");
    expect(breaker.state("sim:script")).toBe("closed");
    expect(shape(rec.events).filter((l) => l.startsWith("warning") || l.startsWith("turn_"))).toEqual([
      "turn_started",
      "turn_failed invalid_request",
      "turn_started",
      "turn_completed",
    ]);
    now = 0;
    const slow = createCircuitBreaker({ slowCallMs: 100, now: () => (now += 150) });
    const rec2 = recorder();
    const e2 = await AgentEngine.open({
      model: slow.wrap(new SimClient({ script: [{ text: ["late"] }] })),
      cwd: "/tmp",
      listeners: [slow.listener, rec2.listener],
    });
    await e2.submitAndWait("x");
    expect(shape(rec2.events).filter((l) => l.startsWith("warning"))).toEqual(["warning slow_model_call"]);
    await engine.close();
    await e2.close();
  });
});
