// Drives the demo's web chat in headless Chromium (playwright-core, no browser download:
// the Debian chromium binary). Run by tests/it/webchat.rs against `askerp demo` on
// loopback; exits non-zero with a message on the first failed step.
//
// Environment: WEBCHAT_URL (the demo server), ASKERP_TEST_CHROMIUM (browser binary),
// ASKERP_TEST_PLAYWRIGHT (node_modules holding playwright-core), WEBCHAT_SCREENS (where
// the screenshots of each step go).
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import path from "node:path";

const base = process.env.WEBCHAT_URL;
const screens = process.env.WEBCHAT_SCREENS;
// `main` (action cards, the default demo) or `interactive` (interactive cards configured).
const phase = process.env.WEBCHAT_PHASE || "main";
const require = createRequire(path.join(process.env.ASKERP_TEST_PLAYWRIGHT, "noop.js"));
const { chromium } = require("playwright-core");
mkdirSync(screens, { recursive: true });

const origin = new URL(base).origin;
const foreign = [];
const requests = [];
const pageErrors = [];

// Thrown when a phase has passed all its steps.
class Done extends Error {}

function fail(msg) {
  throw new Error(msg);
}

function expect(cond, msg) {
  if (!cond) fail(msg);
}

const browser = await chromium.launch({
  executablePath: process.env.ASKERP_TEST_CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
let step = "start";
try {
  // A phone-sized viewport: the page must work there (tabs instead of side-by-side panes).
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    isMobile: true,
    hasTouch: true,
    locale: "en-GB",
  });
  // Every request the page makes is checked: only the demo server may be asked anything.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    requests.push(url);
    let ok = false;
    try { ok = new URL(url).origin === origin; } catch (e) { ok = false; }
    if (ok) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("dialog", (d) => { pageErrors.push("dialog: " + d.message()); d.dismiss(); });

  const shot = async (name) => {
    await page.screenshot({ path: path.join(screens, name + ".png"), fullPage: true });
    console.log("screenshot " + name);
  };
  const pane = (kind) => page.locator(kind === "group" ? "#pane-group" : "#pane-1on1");
  const waitIdle = () => page.waitForFunction(() => document.body.dataset.busy === "0", null, { timeout: 30000 });
  const cards = (kind) => pane(kind).locator('[data-testid="card"]');
  const ask = async (text) => {
    const box = page.locator('[data-testid="composer"]');
    await box.fill(text);
    await box.press("Enter");
    await page.waitForFunction(() => document.body.dataset.busy === "1" || document.querySelectorAll('[data-testid="mine"]').length > 0);
    await waitIdle();
  };
  const lastCardText = async (kind) => (await cards(kind).last().innerText());
  // The chart is shown from the demo server's copy, decoded by the browser at its size.
  const expectChart = async (card) => {
    const img = card.locator("img");
    expect((await img.count()) === 1, "the card shows its chart");
    await page.waitForFunction((e) => e.complete && e.naturalWidth > 0, await img.elementHandle());
    const size = await img.evaluate((e) => [e.naturalWidth, e.naturalHeight, e.getAttribute("src")]);
    expect(size[0] === 800 && size[1] === 480 && size[2].startsWith("/webchat/api/image"), "chart decoded: " + size);
  };
  const selectTab = async (kind) => {
    await page.locator(kind === "group" ? '[data-testid="tab-group"]' : '[data-testid="tab-1on1"]').click();
  };

  step = "open the page";
  await page.goto(base + "/");
  await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 15000 });
  expect((await page.locator("#user option").count()) >= 4, "the user picker lists the directory");
  await page.selectOption('[data-testid="user"]', "demo.staff");
  await page.selectOption('[data-testid="lang"]', "en");
  expect((await page.locator("#who").innerText()).includes("store_staff"), "the picker shows the user's roles");
  await shot(phase + "-00-start");
  if (phase === "interactive") {
    step = "an interactive card with a chart, in the group";
    await page.selectOption('[data-testid="user"]', "demo.manager");
    await selectTab("group");
    await ask("weekly sales report Kowloon");
    const card = cards("group").last();
    expect((await card.getAttribute("data-via")) === "card", "delivered as an interactive card");
    await expectChart(card);
    await shot("interactive-01-card");
    step = "press an interactive card's button";
    const button = card.locator('[data-testid="card-button"]', { hasText: "Mong Kok" });
    expect((await button.count()) === 1, "the card has a Mong Kok button");
    const seq = await card.getAttribute("data-seq");
    await button.click();
    await waitIdle();
    await page.waitForFunction(() => document.querySelector('#pane-group [data-testid="card-updated"]') !== null);
    const updated = pane("group").locator(`[data-testid="card"][data-seq="${seq}"]`);
    const after = await updated.innerText();
    expect(after.includes("Mong Kok") && !after.includes("Tsim Sha Tsui:"), "the card changed in place to Mong Kok: " + after);
    expect((await cards("group").count()) === 1, "no second card: the first one was updated");
    const trace = pane("group").locator('[data-testid="trace"]').last();
    await trace.locator("summary").click();
    expect((await trace.locator('dd[data-field="route"]').innerText()).includes("card_update:ok"), "the trace shows the in-place update");
    await shot("interactive-02-updated-in-place");
    expect(foreign.length === 0, "the page asked other hosts: " + JSON.stringify(foreign));
    expect(pageErrors.length === 0, "the page raised errors: " + JSON.stringify(pageErrors));
    console.log(JSON.stringify({ ok: true, phase, requests: requests.length, foreign: foreign.length }));
    throw new Done();
  }

  step = "ask in English (1:1)";
  await selectTab("1:1");
  await ask("how many iPhone 15 Pro 256GB in stock?");
  let text = await lastCardText("1:1");
  expect(text.includes("iPhone 15 Pro 256GB") && text.includes("Kwun Tong"), "English stock card shown: " + text);
  expect((await cards("1:1").last().locator("strong").count()) > 0, "the card's markdown is rendered (bold figures)");
  expect((await cards("1:1").last().locator('[data-testid="card-button"]').count()) >= 2, "the card shows its buttons");
  // The trace of this answer: rule, decision and connector, as the audit recorded them.
  const trace = pane("1:1").locator('[data-testid="trace"]').last();
  await trace.locator("summary").click();
  const field = async (f) => (await trace.locator(`dd[data-field="${f}"]`).innerText()).trim();
  expect((await field("rule")).includes("in stock"), "trace shows the rule: " + (await field("rule")));
  expect((await field("decision")) === "allow", "trace shows the decision");
  expect((await field("connector")) === "demo", "trace shows the connector");
  expect((await field("intent")) === "inventory.stock", "trace shows the intent");
  expect(/^[0-9a-f]{64}$/.test(await field("hash")), "trace shows the audit record's hash");
  expect((await field("runner_up")) !== "—", "trace shows the runner-up");
  expect((await field("route")).includes("webhook:ok"), "trace shows the delivery route");
  await shot("main-01-english-stock-with-trace");

  step = "ask in Cantonese";
  await ask("觀塘倉仲有幾多 iPhone 15 Pro 256GB?");
  text = await lastCardText("1:1");
  expect(text.includes("庫存") && text.includes("觀塘"), "Cantonese stock card shown in Traditional Chinese: " + text);
  await shot("main-02-cantonese-stock");

  step = "press a follow-up button";
  const before = await cards("1:1").count();
  const button = cards("1:1").last().locator('[data-testid="card-button"]', { hasText: "荃灣" });
  expect((await button.count()) === 1, "the Cantonese card has a Tsuen Wan follow-up button");
  await button.focus();
  await page.keyboard.press("Enter"); // keyboard, not a click: buttons are real buttons
  await waitIdle();
  await page.waitForFunction((n) => document.querySelectorAll('#pane-1on1 [data-testid="card"]').length > n, before);
  text = await lastCardText("1:1");
  expect(text.includes("荃灣"), "the follow-up's answer is about Tsuen Wan: " + text);
  const sentAs = await pane("1:1").locator('[data-testid="mine"] .bubble').last().innerText();
  expect(sentAs.includes("荃灣"), "the button's text was sent as the user: " + sentAs);
  await shot("main-03-follow-up-button");

  step = "own leave in the group";
  await selectTab("group");
  await ask("how many annual leave days do I have?");
  await page.waitForFunction(() => document.querySelectorAll('#pane-group [data-testid="card"]').length > 0);
  text = await lastCardText("group");
  expect(text.includes("Sent to you privately"), "the group sees the note: " + text);
  expect(!/\d/.test(text.replace(/@demo\.staff/g, "")), "the group's note carries no figures: " + text);
  expect(await page.locator('[data-testid="tab-1on1"] .badge').isVisible(), "the 1:1 tab says something new arrived");
  await shot("main-04-leave-note-in-group");
  // Keyboard: the tabs move with the arrow keys.
  await page.locator('[data-testid="tab-group"]').focus();
  await page.keyboard.press("ArrowRight");
  expect((await page.locator('[data-testid="tab-1on1"]').getAttribute("aria-selected")) === "true", "ArrowRight selects the 1:1 tab");
  text = await lastCardText("1:1");
  expect(text.includes("leave balance") && /\d+ days?/.test(text), "the balance is in the 1:1 pane: " + text);
  await shot("main-05-leave-balance-in-1on1");

  step = "a denied question";
  await ask("sales last month in Kowloon");
  text = await lastCardText("1:1");
  expect(text.includes("no access") && text.includes("sales"), "the refusal is shown: " + text);
  const denyTrace = pane("1:1").locator('[data-testid="trace"]').last();
  await denyTrace.locator("summary").click();
  expect((await denyTrace.locator('dd[data-field="decision"]').innerText()).trim() === "deny", "trace says deny");
  expect((await denyTrace.locator('dd[data-field="reason"]').innerText()).trim() !== "—", "trace gives the reason");
  await shot("main-06-denied");

  step = "HTML and markdown in a question are text";
  const evil = '<img src=x onerror="window.__pwned=1"> **bold** [click](https://evil.example/) <b>b</b>';
  await ask(evil);
  const mine = pane("1:1").locator('[data-testid="mine"] .bubble').last();
  expect((await mine.innerText()) === evil, "the question is shown exactly as typed");
  expect((await mine.locator("*").count()) === 0, "the question's bubble holds no elements");
  const injected = await page.evaluate(() => ({
    pwned: window.__pwned === 1,
    onerror: document.querySelectorAll("[onerror]").length,
    foreignImg: Array.from(document.images).filter((i) => !i.getAttribute("src").startsWith("/webchat/api/image")).length,
    links: Array.from(document.querySelectorAll("a[href]")).map((a) => a.getAttribute("href")),
    bold: Array.from(document.querySelectorAll('[data-testid="mine"] b, [data-testid="mine"] strong')).length,
  }));
  expect(!injected.pwned && injected.onerror === 0 && injected.foreignImg === 0 && injected.bold === 0,
    "nothing from the question became markup: " + JSON.stringify(injected));
  expect(injected.links.every((h) => h.startsWith("#")), "no link leaves the page: " + JSON.stringify(injected.links));
  text = await lastCardText("1:1");
  expect(text.includes("＜img"), "the bot's echo is shown as text, escaped as the bot escapes it: " + text);
  await shot("main-07-html-as-text");

  step = "a report chart, as another user";
  await page.selectOption('[data-testid="user"]', "demo.manager");
  expect((await pane("1:1").locator('[data-testid="card"]').count()) === 0, "demo.manager's 1:1 pane is their own");
  await ask("weekly sales report Kowloon");
  text = await lastCardText("1:1");
  expect(text.includes("Kowloon"), "the report card: " + text);
  await expectChart(cards("1:1").last());
  await shot("main-08-report-chart");

  step = "someone not in the directory";
  await page.selectOption('[data-testid="user"]', "visitor.unknown");
  await ask("how many iPhone 15 Pro 256GB in stock?");
  text = await lastCardText("1:1");
  expect(text.includes("don't know you") && text.includes("visitor.unknown"), "the unknown user is told how to get access: " + text);
  expect((await cards("1:1").last().locator("code").count()) === 1, "the user id is a code span");

  step = "a follow-up read from the conversation's context";
  await page.selectOption('[data-testid="user"]', "demo.manager");
  await ask("sales last month in Kowloon");
  await ask("and in Mong Kok?");
  text = await lastCardText("1:1");
  expect(text.includes("Mong Kok"), "the follow-up continued the question: " + text);
  const ctxTrace = pane("1:1").locator('[data-testid="trace"]').last();
  await ctxTrace.locator("summary").click();
  expect((await ctxTrace.locator('dd[data-field="source"]').innerText()).trim() === "context", "trace says the context answered");
  expect((await ctxTrace.locator('dd[data-field="rules_alone"]').count()) === 1, "trace says the rules alone did not read it so");
  await shot("main-10-context-follow-up");

  step = "labels in five languages";
  for (const [lang, label] of [["zh-HK", "發送"], ["zh-CN", "发送"], ["ms", "Hantar"], ["vi", "Gửi"], ["en", "Send"]]) {
    await page.selectOption('[data-testid="lang"]', lang);
    expect((await page.locator('[data-testid="send"]').innerText()).trim() === label, "send button in " + lang);
  }
  await page.selectOption('[data-testid="lang"]', "zh-HK");
  await shot("main-11-labels-zh-HK");

  step = "a wide screen shows both conversations";
  await page.setViewportSize({ width: 1280, height: 900 });
  expect(await pane("group").isVisible() && await pane("1:1").isVisible(), "both panes side by side");
  await shot("main-12-desktop");

  step = "no request to another host";
  expect(foreign.length === 0, "the page asked other hosts: " + JSON.stringify(foreign));
  expect(requests.length > 5, "requests were intercepted and checked");
  expect(pageErrors.length === 0, "the page raised errors: " + JSON.stringify(pageErrors));
  console.log(JSON.stringify({ ok: true, phase, requests: requests.length, foreign: foreign.length }));
} catch (e) {
  if (!(e instanceof Done)) {
    console.error("webchat browser test failed at step \"" + step + "\": " + e.message);
    process.exitCode = 1;
  }
} finally {
  await browser.close();
}
