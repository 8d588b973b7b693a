// `npm run test:e2e`: the console (docs/console.md) in a real browser, Debian's chromium driven by
// playwright-core (no browser download), against the local stack as `npm start` runs it.
//
// One journey, as an administrator and then support would go: sign in with the local sign-in link the
// stack prints, create a key and read its secret once, use the key, see "last used" change, roll it with
// 1 h of overlap, revoke the old key, find the request in the audit trail by its request id. Along the
// way: the secret is in exactly one HTTP response (the create answer), never in a later page, the log
// or an audit row. With SCREENSHOTS=1 each screen is saved to docs/console/ for docs/console.md.

import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { stripVTControlCharacters } from "node:util";
import { chromium } from "playwright-core";
import { startStack } from "../../scripts/lib/stack.mjs";
import { ROOT } from "../../scripts/lib/wrangler.mjs";

const BASE = "http://127.0.0.1:8787";
const ACCOUNT = `acct_e2e${Date.now().toString(36)}`;
const SHOTS = process.env.SCREENSHOTS === "1" ? join(ROOT, "docs", "console") : null;
/** The system browser (Debian's chromium package); CI installs it when missing (.ci/run). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((path) => existsSync(path));

let stack;
let browser;
let page;
/** Every response the browser received: url and body text (documents and fetches). */
const seen = [];

before(async () => {
  assert.ok(CHROMIUM, "no chromium: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH");
  stack = startStack();
  await stack.ready;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  page = await context.newPage();
  page.on("response", async (res) => {
    try {
      seen.push({ url: res.url(), status: res.status(), body: await res.text() });
    } catch {
      // A redirect or an aborted load has no body to read.
    }
  });
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

async function shot(name) {
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** The local sign-in link the stack printed. */
function signInUrl() {
  const match = /(http:\/\/127\.0\.0\.1:8787\/__spot\/console\/sign-in\?token=[A-Za-z0-9._~-]+)/.exec(
    stripVTControlCharacters(stack.output()),
  );
  assert.ok(match, "npm start printed no console sign-in link");
  return match[1];
}

/** One API request with the key, as an integrator's curl; its request id. */
async function useKey(secret) {
  const res = await fetch(`${BASE}/v1/charges`, {
    headers: { "X-Spot-Api-Key": ACCOUNT, "X-Spot-Api-Secret": secret, "User-Agent": "curl/8.5.0" },
  });
  await res.arrayBuffer();
  assert.equal(res.status, 200);
  return res.headers.get("x-request-id");
}

/** Reloads the keys page until `predicate(rowText)` holds for the key's row (the audit consumer is asynchronous). */
async function waitForRow(keyId, predicate, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.goto(`${BASE}/__spot/console/accounts/${ACCOUNT}/keys`);
    const text = await page.getByTestId(`key-row-${keyId}`).textContent();
    if (predicate(text)) return text;
    assert.ok(Date.now() < deadline, `the row of ${keyId} never matched; last: ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

test("an administrator manages a key and support finds its request, in a real browser", async () => {
  // Sign in: the link sets the session cookie and leads to the console.
  await page.goto(signInUrl());
  assert.match(page.url(), /\/__spot\/console\//);
  const home = seen.findLast((r) => r.url.startsWith(`${BASE}/__spot/console/`));
  assert.ok(home);
  await shot("home");

  // Create a key with a hostile label: the secret is shown once, the label as text.
  await page.goto(`${BASE}/__spot/console/accounts/${ACCOUNT}/keys`);
  const form = page.getByTestId("create-key-form");
  await form.locator('[name="label"]').fill("<img src=x onerror=alert(1)>");
  let dialogs = 0;
  page.on("dialog", async (dialog) => {
    dialogs++;
    await dialog.dismiss();
  });
  await form.locator('button[type="submit"]').click();
  await page.waitForSelector("#new-secret");
  const secret = ((await page.locator("#new-secret").textContent()) ?? "").trim();
  assert.match(secret, /^sk_live_[A-Za-z0-9]+$/);
  await shot("created");
  await page.locator("#copy-secret").click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  const createdAnswers = seen.filter((r) => r.body.includes(secret));
  assert.equal(createdAnswers.length, 1, "the secret is in exactly one response: the create answer");
  const keyId = /key_[A-Za-z0-9]+/.exec(await page.locator("body").textContent())?.[0];
  assert.ok(keyId);

  // Back on the list: never used, the label as text (no alert), the secret nowhere.
  const before = await waitForRow(keyId, (text) => /never used/i.test(text));
  assert.match(before, /<img src=x onerror=alert\(1\)>/);
  assert.equal(dialogs, 0);
  await shot("keys");

  // Used once: "last used" shows the time and the connecting IP.
  const requestId = await useKey(secret);
  const used = await waitForRow(keyId, (text) => !/never used/i.test(text) && /127\.0\.0\.1|::1/.test(text));
  assert.doesNotMatch(used, /never used/i);

  // Roll with 1 h: a new secret, once; the old key keeps working for the hour.
  const roll = page.getByTestId(`roll-form-${keyId}`);
  await roll.locator('[name="overlap_seconds"]').selectOption("3600");
  await roll.locator('button[type="submit"]').click();
  await page.waitForSelector("#new-secret");
  const rolled = ((await page.locator("#new-secret").textContent()) ?? "").trim();
  assert.notEqual(rolled, secret);
  await shot("rolled");
  await useKey(secret);
  await useKey(rolled);

  // Revoke the old key, after a confirmation that names it.
  await page.goto(`${BASE}/__spot/console/accounts/${ACCOUNT}/keys/${keyId}/revoke`);
  assert.match(await page.getByTestId("revoke-confirm").textContent(), new RegExp(keyId));
  await shot("revoke");
  await page.getByTestId("revoke-confirm").click();
  await waitForRow(keyId, (text) => /revoked/i.test(text));

  // Support: the audit trail finds the request by its id, with the forwarded metadata.
  await page.goto(`${BASE}/__spot/console/audit?request_id=${requestId}`);
  const event = page.getByTestId("audit-event").first();
  await event.waitFor();
  const eventText = await event.textContent();
  assert.match(eventText, new RegExp(requestId));
  assert.match(eventText, /curl\/8\.5\.0/);
  await shot("audit");

  // The secrets never came back: no later page, no log line, no audit row.
  assert.equal(seen.filter((r) => r.body.includes(secret)).length, 1);
  assert.equal(seen.filter((r) => r.body.includes(rolled)).length, 1);
  assert.doesNotMatch(stack.output(), new RegExp(secret));
  assert.doesNotMatch(stack.output(), new RegExp(rolled));
});
