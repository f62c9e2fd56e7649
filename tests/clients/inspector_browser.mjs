// What a person sees in MCP Inspector's web UI (v2, run by the test) when
// a tool asks for a confirmation, in a real browser (Debian's chromium,
// driven by playwright-core): connect to the server the UI was started
// for, call `create_text_note` with a title, meet the elicitation form,
// tick "Confirm" and submit (the note is created); call it again and
// decline (the tool says so).
//
// usage: node inspector_browser.mjs INSPECTOR_URL SCREENSHOT_DIR
// Prints one JSON object.
import { chromium } from "playwright-core";

const [url, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const out = {};
const dialog = page.getByRole("dialog");

try {
  await page.goto(url);
  // Connect (the server card's switch), then open the tool.
  await page.locator(".mantine-Switch-track").first().click();
  await page.getByText("Connected", { exact: true }).waitFor();
  out.protocol = await page.getByText(/^MCP \d{4}-\d\d-\d\d$/).innerText();
  await page.getByText("Tools", { exact: true }).first().click();
  const call = async (title) => {
    // Close the last call's results, if any, to get the form back.
    const results = page.getByText("Results", { exact: true });
    if (await results.isVisible()) {
      await results.locator("xpath=..").locator("button").first().click();
    }
    await page.getByText("create_text_note").first().click();
    await page.getByRole("textbox", { name: "title" }).fill(title);
    await page.getByRole("textbox", { name: "body" }).fill("milk, eggs");
    await page.getByRole("button", { name: "Execute Tool" }).click();
    await dialog.waitFor();
  };

  await call("Groceries");
  out.dialog = await dialog.innerText();
  await page.screenshot({ path: `${shots}/1-confirmation-asked.png` });
  await dialog.getByText("Confirm", { exact: true }).click();
  await dialog.getByRole("button", { name: "Submit" }).click();
  await dialog.waitFor({ state: "hidden" });
  await page.getByText("note_", { exact: false }).first().waitFor();
  out.accepted = await page.locator("main, body").first().innerText();
  await page.screenshot({ path: `${shots}/2-note-created.png` });

  await call("Not this one");
  await dialog.getByRole("button", { name: "Decline" }).click();
  await dialog.waitFor({ state: "hidden" });
  await page.getByText("the person declined", { exact: false }).first().waitFor();
  out.declined = await page.locator("main, body").first().innerText();
  await page.screenshot({ path: `${shots}/3-declined.png` });
} catch (e) {
  console.error(await page.innerText("body"));
  await page.screenshot({ path: `${shots}/failure.png` });
  throw e;
}
await browser.close();
console.log(JSON.stringify(out));
