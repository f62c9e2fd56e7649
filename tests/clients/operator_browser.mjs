// The operator page in a real browser (Debian's chromium, driven by
// playwright-core): an operator signs in with an admin key, sees the
// environment, the scope matrix and a key, filters the audit decisions,
// pages through them, creates a key (its secret shown once), and revokes
// another.
//
// usage: node operator_browser.mjs ADMIN_ORIGIN ADMIN_KEY KEY_ID_TO_REVOKE SCREENSHOT_DIR
// Prints one JSON object.
import { chromium } from "playwright-core";

const [origin, adminKey, revokeId, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
const out = {};
const fail = async (e) => {
  console.error(await page.innerText("body"));
  throw e;
};

await page.goto(`${origin}/`);
out.signInText = await page.innerText("body");
await page.screenshot({ path: `${shots}/1-sign-in.png`, fullPage: true });
// A key without the admin scope is turned away.
await page.fill("#credential", "mcpk_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
await page.click("button[type=submit]");
out.badSignInText = await page.innerText("body");
await page.fill("#credential", adminKey);
await page.click("button[type=submit]");
await page.waitForSelector("#key-list", { timeout: 5000 }).catch(fail);
out.scriptCount = await page.locator("script").count();
out.pageText = await page.innerText("body");
out.matrixText = await page.innerText("#scope-matrix");
out.keyRow = await page.innerText(`tr[data-key="${revokeId}"]`);
out.auditRows = await page.locator("#audit-list tr").count();
await page.screenshot({ path: `${shots}/2-operator-page.png`, fullPage: true });

// Filters: only the denied decisions.
await page.selectOption("#audit-filter select[name=decision]", "denied");
await page.click("#audit-filter button[type=submit]");
await page.waitForURL(/decision=denied/);
out.deniedDecisions = await page
  .locator("#audit-list tr td:nth-child(5)")
  .evaluateAll((tds) => tds.map((td) => td.textContent));
await page.screenshot({ path: `${shots}/3-audit-denied.png`, fullPage: true });
await page.goto(`${origin}/?tool=search_owned_notes`);
out.toolFiltered = await page
  .locator("#audit-list tr td:nth-child(4)")
  .evaluateAll((tds) => tds.map((td) => td.textContent));

// Pages of decisions.
await page.goto(`${origin}/`);
out.firstPageRows = await page.locator("#audit-list tr").count();
await page.click("text=older →");
await page.waitForURL(/page=2/);
out.secondPageRows = await page.locator("#audit-list tr").count();
out.secondPageText = await page.innerText("body");

// Create a key: the secret is on the next page, once.
await page.goto(`${origin}/`);
await page.fill("#create-key input[name=owner]", "dana");
await page.check('#create-key input[name="scope:notes:read"]');
await page.click("#create-key button[type=submit]");
await page.waitForSelector("#secret", { timeout: 5000 }).catch(fail);
out.newKey = await page.innerText("#secret");
out.newKeyText = await page.innerText("body");
await page.screenshot({ path: `${shots}/4-key-created.png`, fullPage: true });

// Revoke the given key with its button.
await page.goto(`${origin}/`);
await page.click(`tr[data-key="${revokeId}"] button`);
await page.waitForSelector("#key-list", { timeout: 5000 }).catch(fail);
out.revokedRow = await page.innerText(`tr[data-key="${revokeId}"]`);
out.pageAfterCreate = await page.innerText("#key-list");

await browser.close();
console.log(JSON.stringify(out));
