// The consent pages in a real browser (Debian's chromium, driven by
// playwright-core): a person opens the authorization URL, signs in with an
// access key, sees the scopes and the tools they open, allows, and lands
// on the client's redirect URI with a code; denies; and meets an error
// page for a redirect URI that was not registered.
//
// usage: node consent_browser.mjs ALLOW_URL DENY_URL MISMATCH_URL KEY SCREENSHOT_DIR
// Prints one JSON object.
import { chromium } from "playwright-core";

const [allowUrl, denyUrl, mismatchUrl, key, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const page = await browser.newPage({ viewport: { width: 800, height: 1000 } });
// The client's redirect URI has nothing listening: record where the
// browser is sent instead of loading it.
const landed = [];
await page.route("http://127.0.0.1:9/**", (route) => {
  landed.push(route.request().url());
  route.fulfill({ status: 200, contentType: "text/html", body: "<p>client callback</p>" });
});
const out = {};

await page.goto(allowUrl);
await page.screenshot({ path: `${shots}/1-sign-in.png`, fullPage: true });
out.signInText = await page.innerText("body");
out.scriptCount = await page.locator("script").count();
await page.fill("#access_key", key);
await page.click("button[value=sign_in]");
await page.waitForSelector("button[value=approve]", { timeout: 5000 }).catch(async (e) => {
  console.error(await page.innerText("body"));
  throw e;
});
await page.screenshot({ path: `${shots}/2-consent.png`, fullPage: true });
out.consentText = await page.innerText("body");
out.checkboxes = await page.locator("input[type=checkbox]").evaluateAll((els) => els.map((e) => e.name));
await page.click("button[value=approve]");
await page.waitForURL("http://127.0.0.1:9/**");
out.allowed = landed.at(-1);

await page.goto(denyUrl);
await page.click("button[value=deny]");
await page.waitForURL("http://127.0.0.1:9/**");
out.denied = landed.at(-1);

const response = await page.goto(mismatchUrl);
out.mismatchStatus = response.status();
out.mismatchText = await page.innerText("body");
out.mismatchUrl = page.url();
await page.screenshot({ path: `${shots}/3-redirect-mismatch.png`, fullPage: true });

await browser.close();
console.log(JSON.stringify(out));
