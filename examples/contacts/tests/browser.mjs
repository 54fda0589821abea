// Drives the contacts example in Debian's Chromium (playwright-core, no browser download) the
// way a person uses it: forms with validation errors, flash messages after a redirect, active
// search, deleting rows with htmx, an htmx error shown in the error area, and bulk delete with
// an HX-Redirect. Run by `tests/it.rs` with the server's base URL; exits non-zero on the first
// failed step, saying which.
import { chromium } from "playwright-core";

const base = process.argv[2];
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const STEP_TIMEOUT_MS = 10_000;

const browser = await chromium.launch({
  executablePath,
  // Root in CI: Chromium's sandbox needs a user namespace it may not get there.
  args: ["--no-sandbox"],
});
let failed = false;
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));

  const step = (name) => console.log(`step: ${name}`);
  const expectText = async (selector, text) => {
    await page.locator(selector, { hasText: text }).first().waitFor();
  };
  const rows = () => page.locator("#rows tr[id^=contact-]");
  const waitForRowCount = async (count) => {
    await page.waitForFunction(
      (n) => document.querySelectorAll("#rows tr[id^=contact-]").length === n,
      count,
    );
  };

  step("an empty address book");
  await page.goto(`${base}/contacts`);
  await expectText("#rows", "No contacts yet.");

  step("a form with errors shows them next to the fields");
  await page.click("text=Add a contact");
  await page.click("button:has-text('Add')");
  await expectText("#name-error", "Enter a name.");
  await expectText("#email-error", "Enter an e-mail address");

  step("adding a contact redirects to the list with a flash message");
  for (const [name, email] of [
    ["Ada Lovelace", "ada@example.com"],
    ["Grace Hopper", "grace@example.com"],
    ["Alan Turing", "alan@example.com"],
  ]) {
    await page.goto(`${base}/contacts/new`);
    await page.fill("input[name=name]", name);
    await page.fill("input[name=email]", email);
    await page.click("button:has-text('Add')");
    await page.waitForURL(`${base}/contacts`);
    await expectText("#flashes .flash.success", `Added ${name}.`);
  }
  await waitForRowCount(3);

  step("the flash message shows once");
  await page.reload();
  await waitForRowCount(3);
  if ((await page.locator("#flashes .flash").count()) !== 0) {
    throw new Error("the flash message showed again after a reload");
  }

  step("active search narrows the rows and keeps the URL in sync");
  await page.fill("#search", "gra");
  await waitForRowCount(1);
  await expectText("#rows", "Grace Hopper");
  await page.waitForURL(/\?q=gra$/);
  await page.fill("#search", "");
  await waitForRowCount(3);

  step("deleting a row with htmx (CSRF token from hx-headers)");
  const alan = page.locator("tr", { hasText: "Alan Turing" });
  await alan.locator("button:has-text('Delete')").click();
  await alan.waitFor({ state: "detached" });
  await waitForRowCount(2);
  if ((await page.locator("#errors").innerText()) !== "") {
    throw new Error("the error area is not empty after a successful delete");
  }

  step("a failed htmx request shows its error in the error area");
  const adaId = await page
    .locator("tr", { hasText: "Ada Lovelace" })
    .getAttribute("id")
    .then((id) => id.replace("contact-", ""));
  // Another tab deletes Ada first.
  const status = await page.evaluate(async (id) => {
    const headers = JSON.parse(document.body.getAttribute("hx-headers"));
    const response = await fetch(`/contacts/${id}`, { method: "DELETE", headers });
    return response.status;
  }, adaId);
  if (status !== 200) throw new Error(`deleting from another tab answered ${status}`);
  await page.locator("tr", { hasText: "Ada Lovelace" }).locator("button:has-text('Delete')").click();
  await expectText("#errors .error", `Contact ${adaId} was already deleted. (404)`);
  await waitForRowCount(2); // the row stays: nothing was swapped over it

  step("bulk delete sends the ids in the URL and reloads with a flash message");
  await page.check("input[aria-label='Select Grace Hopper']");
  await page.check("input[aria-label='Select Ada Lovelace']");
  await page.click("button:has-text('Delete selected')");
  await expectText("#flashes .flash.success", "Deleted 1 contact.");
  await expectText("#rows", "No contacts yet.");

  step("an unknown contact gets the app's own error page");
  const response = await page.goto(`${base}/contacts/999`);
  if (response.status() !== 404) throw new Error(`expected 404, got ${response.status()}`);
  await expectText("main .error", "There is no contact 999. (404)");

  if (problems.length > 0) throw new Error(problems.join("\n"));
  console.log("browser: all steps passed");
} catch (error) {
  failed = true;
  console.error(`browser: FAILED: ${error.message}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
