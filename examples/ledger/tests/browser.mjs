// Drives the ledger's web app in Debian's Chromium (playwright-core, no browser download) the way
// a bookkeeper uses it: sign up, add a commodity and accounts, post an entry through the htmx
// form (live balancing feedback, a row added and removed, then the new balances shown without a
// page load), reverse it,
// read the register and the balance sheet, reconcile the bank account (the difference updates
// live), import a journal (upload, preview, confirm), rename an account, join a second
// organisation by invitation and switch between the two, log out and in with JavaScript
// switched off (and import without it), and take screenshots at 390 px and 1,440 px, failing
// on horizontal overflow of the page. Run by
// `tests/cli/browser.rs` with the server's base URL and a directory for the screenshots; exits
// non-zero on the first failed step, saying which.
import { chromium } from "playwright-core";
import { shoot as shootAt, watchProblems } from "../../../tests/browser-support.mjs";

const base = process.argv[2];
const shots = process.argv[3];
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const STEP_TIMEOUT_MS = 10_000;
const today = new Date().toISOString().slice(0, 10);

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
let failed = false;
const step = (name) => console.log(`step: ${name}`);
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const problems = watchProblems(page);
  const expectText = async (selector, text) => {
    await page.locator(selector, { hasText: text }).first().waitFor();
  };
  const shoot = (name) => shootAt(page, shots, name);

  step("sign up: a new organisation and its owner");
  await page.goto(`${base}/signup`);
  await page.fill("input[name=organisation]", "acme");
  await page.fill("input[name=name]", "Ada Bookkeeper");
  await page.fill("input[name=email]", "ada@example.com");
  await page.fill("input[name=password]", "correct horse battery");
  await page.click("button:has-text('Create')");
  await page.waitForURL(`${base}/`);
  await expectText("h1", "acme");
  await expectText("#flashes .flash.success", "Welcome! acme is ready.");

  step("a commodity and three accounts");
  await page.click("nav >> text=Accounts");
  await page.fill("input[name=code]", "USD");
  await page.fill("input[name=precision]", "2");
  await page.click("button:has-text('Add commodity')");
  await expectText("#flashes .flash.success", "Commodity USD added.");
  for (const name of ["Assets:Bank:Checking", "Income:Sales", "Expenses:Office"]) {
    await page.fill("input[name=name]", name);
    await page.fill("input[name=opened]", "2024-01-01");
    await page.click("button:has-text('Create')");
    await expectText("#flashes .flash.success", `Account ${name} created.`);
  }

  step("an entry with live balancing feedback, saved without a page load");
  await page.click("nav >> text=New entry");
  await page.evaluate(() => { window.__stillHere = true; });
  await page.fill("input[name=description]", "Invoice 17");
  await page.locator("input[name=account]").nth(0).fill("Assets:Bank:Checking");
  await page.locator("input[name=amount]").nth(0).fill("250.00");
  await page.locator("input[name=account]").nth(1).fill("Income:Sales");
  await page.locator("input[name=amount]").nth(1).fill("-200.00");
  await expectText("#feedback", "Off by 50.00 USD.");
  await page.locator("input[name=amount]").nth(1).fill("-250.00");
  await expectText("#feedback", "Balanced.");
  // A third row added and removed again over htmx: what was typed stays.
  await page.click("button:has-text('Add a row')");
  await page.locator("input[name=account]").nth(2).waitFor();
  await page.click("button[aria-label='Remove row 3']");
  await page.waitForFunction(() => document.querySelectorAll("input[name=account]").length === 2);
  if ((await page.locator("input[name=amount]").nth(1).inputValue()) !== "-250.00") {
    throw new Error("adding and removing a row lost what was typed");
  }
  await page.click("button:has-text('Save the entry')");
  await expectText("#saved", "saved. Balances now:");
  await expectText("#saved", "Assets:Bank:Checking: 250.00 USD");
  if (!(await page.evaluate(() => window.__stillHere === true))) {
    throw new Error("saving the entry loaded a new page");
  }

  step("a refused entry shows why, in the page");
  await page.locator("input[name=account]").nth(1).fill("Income:Nowhere");
  await page.click("button:has-text('Save the entry')");
  await expectText("#errors", "unknown_account");

  step("the register shows the entry and its running balance");
  await page.click("nav >> text=Accounts");
  await page.click("a:has-text('Checking')");
  await expectText("#register", "Invoice 17");
  await expectText("#register td[data-label=Balance]", "250.00 USD");
  await shoot("register");

  step("the register's text filter swaps the rows and keeps the URL");
  await page.fill("input[name=q]", "no such text");
  await expectText("#register", "No entries match.");
  await page.waitForFunction(() =>
    decodeURIComponent(location.search.replace(/\+/g, " ")).includes("q=no such text"),
  );
  await page.fill("input[name=q]", "invoice");
  await expectText("#register", "Invoice 17");

  step("reverse the entry (with confirmation); the reversal links back");
  // Follow the link by its address: leaving the filter field fires its `change` and swaps the
  // rows again, which could take the link away under a click.
  const entry = await page.locator("#register a", { hasText: "Invoice 17" }).first().getAttribute("href");
  await page.goto(`${base}${entry}`);
  page.once("dialog", (dialog) => dialog.accept());
  await page.fill("input[name=date]", today);
  await page.click("button:has-text('Reverse')");
  await expectText("main", "Reverses");
  await page.goBack();
  await page.reload();
  await expectText("main", "Reversed by");

  step("the balance sheet");
  await page.click("nav >> text=Reports");
  await page.goto(`${base}/reports/balance-sheet?from=2024-01-01&to=${today}&step=year`);
  await expectText("main", "Assets");
  await shoot("balance-sheet");

  step("reconcile the bank account: tick both entries, the difference updates live, finish");
  await page.click("nav >> text=Reconcile");
  await page.selectOption("select[name=account]", "Assets:Bank:Checking");
  await page.fill("input[name=statement_balance]", "0.00");
  await page.click("button:has-text('Start')");
  await expectText("#difference", "Difference:");
  await page.evaluate(() => { window.__stillHere = true; });
  const boxes = page.locator("input[type=checkbox]");
  await boxes.nth(0).check();
  await expectText("#difference", "-250.00 USD");
  await boxes.nth(1).check();
  await expectText("#difference", "the statement is matched");
  if (!(await page.evaluate(() => window.__stillHere === true))) {
    throw new Error("ticking loaded a new page");
  }
  await page.click("button:has-text('Finish')");
  await expectText("#flashes .flash.success", "its entries are reconciled");
  await shoot("reconcile");

  step("import a journal: upload, preview, confirm");
  await page.click("nav >> text=Import");
  await page.check("input[name=kind][value=journal]");
  await page.setInputFiles("input[name=file]", {
    name: "april.journal",
    mimeType: "text/plain",
    buffer: Buffer.from(
      `${today} Office chairs\n    Expenses:Office  80.00 USD\n    Assets:Bank:Checking\n`,
    ),
  });
  await page.click("button:has-text('Preview')");
  await expectText("h1", "Import preview: april.journal");
  await expectText("main", "Office chairs");
  await shoot("import-preview");
  await page.click("button:has-text('Import 1 entry')");
  await page.waitForURL(`${base}/`);
  await expectText("#flashes .flash.success", "Imported 1 entries from april.journal.");

  step("rename an account; its register follows");
  await page.click("nav >> text=Accounts");
  const office = page.locator("li", { has: page.locator("a", { hasText: "Office" }) }).last();
  await office.locator("details.account-actions summary").click();
  await office.locator("input[name=to]").fill("Expenses:Office Supplies");
  await office.locator("button:has-text('Rename')").click();
  await expectText("#flashes .flash.success", "Expenses:Office is now Expenses:Office Supplies.");
  await page.click("a:has-text('Office Supplies')");
  await expectText("#register", "Office chairs");

  step("a second organisation invites ada; she joins and switches between them");
  const second = await browser.newContext();
  const bo = await second.newPage();
  bo.setDefaultTimeout(STEP_TIMEOUT_MS);
  await bo.goto(`${base}/signup`);
  await bo.fill("input[name=organisation]", "beta");
  await bo.fill("input[name=name]", "Bo Owner");
  await bo.fill("input[name=email]", "bo@example.com");
  await bo.fill("input[name=password]", "another long password");
  await bo.click("button:has-text('Create')");
  await bo.waitForURL(`${base}/`);
  await bo.click("nav >> text=People");
  await bo.click("button:has-text('Make an invitation link')");
  const link = (await bo.locator("code.secret").textContent()).trim();
  await second.close();
  await page.goto(`${base}${link}`);
  await page.click("button:has-text('Accept')");
  await page.waitForURL(`${base}/`);
  await expectText("#flashes .flash.success", "You joined beta as accountant.");
  await expectText("h1", "beta");
  // The switch is an htmx POST on change (the page's CSP allows no inline script).
  await page.selectOption("nav select[name=tenant]", "acme");
  await expectText("h1", "acme");
  await page.selectOption("nav select[name=tenant]", "beta");
  await expectText("h1", "beta");
  await page.selectOption("nav select[name=tenant]", "acme");
  await expectText("h1", "acme");

  step("the dashboard at both widths");
  await page.goto(`${base}/`);
  await expectText("h1", "acme");
  await shoot("dashboard");

  step("log out");
  await page.click("button:has-text('Log out')");
  await page.waitForURL(`${base}/login`);
  await expectText("#flashes", "You are logged out.");

  step("with JavaScript switched off: log in and read the accounts");
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const noScript = await plain.newPage();
  noScript.setDefaultTimeout(STEP_TIMEOUT_MS);
  await noScript.goto(`${base}/login`);
  await noScript.fill("input[name=email]", "ada@example.com");
  await noScript.fill("input[name=password]", "correct horse battery");
  await noScript.click("button:has-text('Log in')");
  await noScript.waitForURL(`${base}/`);
  await noScript.locator("h1", { hasText: "acme" }).waitFor();
  await noScript.goto(`${base}/accounts`);
  await noScript.locator("a", { hasText: "Checking" }).first().waitFor();
  // An import works without JavaScript too (a plain multipart form, a preview page, a form).
  await noScript.goto(`${base}/import`);
  await noScript.check("input[name=kind][value=journal]");
  await noScript.setInputFiles("input[name=file]", {
    name: "may.journal",
    mimeType: "text/plain",
    buffer: Buffer.from(`${today} Paper\n    Expenses:Office Supplies  5.00 USD\n    Assets:Bank:Checking\n`),
  });
  await noScript.click("button:has-text('Preview')");
  await noScript.locator("main", { hasText: "Paper" }).waitFor();
  await noScript.click("button:has-text('Import 1 entry')");
  await noScript.waitForURL(`${base}/`);
  await noScript.locator("#flashes", { hasText: "Imported 1 entries from may.journal." }).waitFor();
  await plain.close();

  if (problems.length > 0) throw new Error(problems.join("\n"));
  console.log("browser: all steps passed");
} catch (error) {
  failed = true;
  console.error(`browser step failed: ${error.stack ?? error}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
