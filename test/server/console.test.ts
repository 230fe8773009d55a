import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaifengServer } from "../../src/server/server.ts";
import { api, startServer, TOKEN, tempStorage } from "../helpers/server.ts";

const CHROMIUM = process.env.TAIFENG_CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = resolve(import.meta.dirname, "../../test-results");
const present = existsSync(CHROMIUM);
// Under CI the browser is installed by .ci/run: its absence is a failure, not a skip.
if (!present && process.env.CI === "true")
  throw new Error(`Chromium is missing at ${CHROMIUM}: .ci/run installs it (apt-get install chromium)`);

let storage: Awaited<ReturnType<typeof tempStorage>>;
let server: TaifengServer;
let url: string;
let browser: Browser;
const ran: string[] = [];

beforeAll(async () => {
  if (!present) return;
  storage = await tempStorage();
  ({ server, url } = await startServer(storage.dir, ran));
  await mkdir(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
}, 60_000);
afterAll(async () => {
  if (!present) return;
  await browser?.close();
  await server?.close();
  await storage?.remove();
});

async function connect(page: Page): Promise<void> {
  await page.goto(url);
  await page.getByLabel("Bearer token").fill(TOKEN);
  await page.getByRole("button", { name: "Connect" }).click();
}

describe.skipIf(!present)("the web console in Chromium", () => {
  it("lists threads, streams a live turn, lets a click approve a tool call, shows usage and the timeline", async () => {
    for (const title of ["first thread", "second thread"])
      await api(url, "/v1/threads", { method: "POST", body: JSON.stringify({ title, input: "hello" }) });
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      // The page's first calls are refused until the token is entered: that 401 is expected.
      if (m.type() === "error" && !m.text().includes("status of 401")) errors.push(m.text());
    });
    await connect(page);
    // The list renders (both threads, with status and usage).
    await expect.poll(() => page.locator(".thread-link").count(), { timeout: 15_000 }).toBe(2);
    await expect
      // Most recently updated first: which of the two turns ends last depends on the machine.
      .poll(async () => (await page.locator(".thread-link .title").allTextContents()).sort(), {
        timeout: 15_000,
      })
      .toEqual(["first thread", "second thread"]);
    await page.screenshot({ path: join(SHOTS, "console-threads.png") });

    // A live turn streams into the page: part of the answer is on screen before the turn ends.
    await page.locator(".thread-link", { hasText: "first thread" }).click();
    await expect
      .poll(() => page.locator(".msg.assistant .body").first().textContent(), { timeout: 15_000 })
      .toBe("hello from the simulator");
    await page.getByLabel("Message").fill("slow please");
    await page.getByRole("button", { name: "Send" }).click();
    const partial = page.locator(".msg.assistant .body").nth(1);
    await expect
      .poll(async () => /w3 /.test((await partial.textContent()) ?? ""), { timeout: 15_000 })
      .toBe(true);
    const midway = (await partial.textContent()) ?? "";
    expect(midway).not.toContain("w19");
    await page.screenshot({ path: join(SHOTS, "console-streaming.png") });
    await expect.poll(() => partial.textContent(), { timeout: 15_000 }).toContain("w19");

    // An approval clicked in the page lets the tool run.
    await expect.poll(() => page.getByRole("button", { name: "Send" }).isEnabled()).toBe(true);
    await page.getByLabel("Message").fill("shell: echo from-the-browser");
    await page.getByRole("button", { name: "Send" }).click();
    const approve = page.locator(".conversation .approval").getByRole("button", { name: "Approve once" });
    await approve.waitFor({ timeout: 15_000 });
    expect(await page.locator("#approval-count").textContent()).toMatch(/^1?$/);
    await page.screenshot({ path: join(SHOTS, "console-approval.png") });
    expect(ran).toEqual([]);
    await approve.click();
    await expect
      .poll(() => page.locator(".call .status").last().textContent(), { timeout: 15_000 })
      .toBe("ok");
    expect(ran).toEqual(["echo from-the-browser"]);
    await expect
      .poll(() => page.locator(".msg.assistant .body").last().textContent())
      .toBe("tool said: ran echo from-the-browser");

    // The timeline has the turn's model calls, the tool call and the permission wait.
    await page.getByRole("tab", { name: "Timeline" }).click();
    const spans = await page.locator(".waterfall .span").evaluateAll((els) => els.map((e) => e.className));
    expect(spans).toEqual(expect.arrayContaining(["span model", "span tool", "span wait"]));
    await page.screenshot({ path: join(SHOTS, "console-timeline.png") });

    // The usage chart has data.
    await page.getByRole("button", { name: "Usage" }).click();
    await expect.poll(() => page.locator("#usage-chart").getAttribute("data-points")).toBe("1");
    expect(await page.locator("#usage-chart canvas").count()).toBe(1);
    const modelRow = await page.locator("#usage-models tbody tr").first().locator("th, td").allTextContents();
    expect(modelRow[0]).toBe("sim:script");
    expect(Number(modelRow[1])).toBeGreaterThanOrEqual(4);
    await page.screenshot({ path: join(SHOTS, "console-usage.png") });

    // Readable at a phone's width.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("button", { name: "Threads" }).click();
    const overflow = (await page.evaluate(
      "document.documentElement.scrollWidth - window.innerWidth",
    )) as number;
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(SHOTS, "console-phone.png") });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it("the inbox answers an approval for a thread that is not open in the page", async () => {
    const created = (await (
      await api(url, "/v1/threads", {
        method: "POST",
        body: JSON.stringify({ title: "inbox", input: "shell: echo inbox" }),
      })
    ).json()) as { threadId: string };
    await expect
      .poll(
        async () =>
          ((await (await api(url, "/v1/approvals")).json()) as { approvals: unknown[] }).approvals.length,
        { timeout: 15_000 },
      )
      .toBe(1);
    const page = await browser.newPage();
    await connect(page);
    await page.getByRole("button", { name: /Approvals/ }).click();
    const card = page.locator("#approvals .approval");
    await card.waitFor({ timeout: 15_000 });
    expect(await card.textContent()).toContain(created.threadId);
    await card.getByRole("button", { name: "Deny" }).click();
    await expect
      .poll(
        async () =>
          ((await (await api(url, "/v1/approvals")).json()) as { approvals: unknown[] }).approvals.length,
        { timeout: 15_000 },
      )
      .toBe(0);
    expect(ran).not.toContain("echo inbox");
    await page.close();
  }, 60_000);
});
