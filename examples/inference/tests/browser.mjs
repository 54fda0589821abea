// Drives the inference dashboard in Debian's Chromium (playwright-core, no browser download):
// the model page's charts update on their own over SSE while this script sends infer
// requests (no reload: a marker set on the window survives), a batching control changes the
// running batcher's setting (shown by the form and, through the next SSE update, the "in
// force" line), a bad value shows its reason, the same form works with JavaScript switched off,
// the playground scores a transaction and stores a thumbs up (seen in the JSONL export and the
// model page's split), reset to config.json forgets saved settings, the model list shows an
// unload made elsewhere without a reload, and the pages fit at 390 px and 1,440 px (screenshots). Run by `tests/cli/browser.rs` with the
// server's base URL and a directory for the screenshots; exits non-zero on the first failed
// step, saying which.
import { chromium } from "playwright-core";
import { shoot as shootAt, watchProblems } from "../../../tests/browser-support.mjs";

const base = process.argv[2];
const shots = process.argv[3];
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const STEP_TIMEOUT_MS = 15_000;

const infer = async (rows) => {
  const data = Array(rows * 8).fill(1);
  const response = await fetch(`${base}/v2/models/risk/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ inputs: [{ name: "features", shape: [rows, 8], datatype: "FP32", data }] }),
  });
  if (response.status !== 200) throw new Error(`infer answered ${response.status}`);
};

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
let failed = false;
const step = (name) => console.log(`step: ${name}`);
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const problems = watchProblems(page);
  const shoot = (name) => shootAt(page, shots, name);

  step("the model list");
  await page.goto(`${base}/`);
  await page.locator("a", { hasText: "risk" }).first().waitFor();
  await shoot("models");

  step("the model page, its charts updating over SSE without a reload");
  await page.click("a:has-text('risk')");
  await page.waitForURL(`${base}/models/risk`);
  await page.evaluate(() => { window.__notReloaded = true; });
  const pointsBefore = await page.locator("#chart-requests svg").getAttribute("data-points");
  // The first update arrives within a second or two: the hover columns grow by one a second.
  await page.waitForFunction(
    (before) => document.querySelector("#chart-requests svg")?.getAttribute("data-points") !== before,
    pointsBefore,
  );
  for (let i = 0; i < 12; i += 1) await infer(1 + (i % 4));
  await page.waitForFunction(() => Number(document.querySelector("#total-requests")?.textContent) >= 12);
  const drawn = await page.locator("#chart-requests polyline.line").count();
  if (drawn < 1) throw new Error("the requests chart draws no line");
  const tallest = await page.evaluate(() => {
    const points = [...document.querySelectorAll("#chart-requests polyline.line")]
      .flatMap((line) => line.getAttribute("points").split(" "))
      .map((pair) => Number(pair.split(",")[1]));
    return Math.min(...points);
  });
  const bottom = await page.evaluate(() =>
    Number(document.querySelector("#chart-requests line.axis:last-of-type")?.getAttribute("y1")));
  if (!(tallest < bottom)) throw new Error(`the requests line never rose (${tallest} vs axis ${bottom})`);
  const bars = await page.evaluate(() =>
    [...document.querySelectorAll("#chart-batches rect.bar")].filter((bar) => Number(bar.getAttribute("height")) > 0).length);
  if (bars < 1) throw new Error("the batch-size histogram shows no batch");
  const tooltip = await page.locator("#chart-latency rect.hover title").last().textContent();
  if (!/p99/.test(tooltip)) throw new Error(`a latency tooltip without p99: ${tooltip}`);
  if (!(await page.evaluate(() => window.__notReloaded === true))) throw new Error("the page reloaded");
  await shoot("model");

  step("a batching control changes the running batcher");
  await page.fill("input[name=max_batch]", "5");
  await page.fill("input[name=max_queue_delay_us]", "250");
  await page.uncheck("input[name=adaptive]");
  await page.click("button:has-text('Apply')");
  await page.locator("#controls .saved", { hasText: "Applied" }).waitFor();
  await page.locator("#in-force-max-batch", { hasText: /^5$/ }).waitFor();
  await page.locator("#in-force-adaptive", { hasText: "off" }).waitFor();
  const metrics = await (await fetch(`${base}/metrics`)).text();
  if (!metrics.includes('inference_batch_size_limit{model="risk",version="1"} 5')) {
    throw new Error("/metrics does not show the new limit");
  }
  if (!(await page.evaluate(() => window.__notReloaded === true))) throw new Error("the page reloaded");

  step("a bad value shows its reason and changes nothing");
  await page.fill("input[name=max_batch]", "0");
  await page.click("button:has-text('Apply')");
  await page.locator("#controls .error", { hasText: "max batch must be from 1 to 256, not 0" }).waitFor();
  await page.waitForTimeout(1500);
  const still = await page.locator("#in-force-max-batch").textContent();
  if (still !== "5") throw new Error(`a refused value changed the setting to ${still}`);

  step("with JavaScript switched off: the form posts and the page shows the setting");
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const noScript = await plain.newPage();
  noScript.setDefaultTimeout(STEP_TIMEOUT_MS);
  await noScript.goto(`${base}/models/risk`);
  await noScript.fill("input[name=max_batch]", "7");
  await noScript.click("button:has-text('Apply')");
  await noScript.waitForURL(`${base}/models/risk`);
  await noScript.locator("#in-force-max-batch", { hasText: /^7$/ }).waitFor();
  await noScript.locator("#tuning-source", { hasText: "Saved on this dashboard" }).waitFor();
  await plain.close();

  step("reset to config.json (htmx): the saved settings are forgotten");
  await page.goto(`${base}/models/risk`);
  await page.locator("#tuning-source", { hasText: "Saved on this dashboard" }).waitFor();
  await page.click("#reset-batching");
  await page.locator("#tuning-source", { hasText: "From config.json" }).waitFor();
  const resetTo = await page.inputValue("input[name=max_batch]");
  if (resetTo !== "64") throw new Error(`after reset the form shows max batch ${resetTo}, not 64`);
  await page.locator("#in-force-max-batch", { hasText: /^64$/ }).waitFor();

  step("the playground: score a transaction and give it a thumbs up, which is stored");
  await page.goto(`${base}/playground`);
  await page.evaluate(() => { window.__notReloaded = true; });
  await page.fill("input[name=hour]", "3");
  await page.fill("input[name=merchant_category]", "5");
  await page.click("button:has-text('Score')");
  await page.locator("#risk-score").waitFor();
  const subject = await page.locator("#risk-answer input[name=subject]").first().inputValue();
  await page.click("button:has-text('👍 Right')");
  await page.locator("#feedback", { hasText: "thumbs up for risk version 1 is recorded" }).waitFor();
  if (!(await page.evaluate(() => window.__notReloaded === true))) throw new Error("the playground reloaded");
  const exported = await (await fetch(`${base}/v1/feedback.jsonl`)).text();
  if (!exported.includes(subject) || !exported.includes('"label":"up"')) {
    throw new Error(`the thumbs up is not in the export: ${exported}`);
  }
  await page.goto(`${base}/models/risk`);
  await page.locator("#split td", { hasText: "100.0 %" }).first().waitFor();
  await page.goto(`${base}/playground`);
  await shoot("playground");

  step("the model list updates on its own: an unload elsewhere shows without a reload");
  await page.goto(`${base}/`);
  await page.evaluate(() => { window.__notReloaded = true; });
  const unloaded = await fetch(`${base}/v2/repository/models/risk/unload`, { method: "POST", body: "{}" });
  if (unloaded.status !== 200) throw new Error(`unload answered ${unloaded.status}`);
  await page.locator("#models .state.unloaded", { hasText: "UNLOADED" }).waitFor();
  if (!(await page.evaluate(() => window.__notReloaded === true))) throw new Error("the list reloaded");
  await page.click("#models button:has-text('Load')");
  await page.locator("#models .state.ready", { hasText: "READY" }).waitFor();

  if (problems.length > 0) throw new Error(problems.join("\n"));
  console.log("browser: all steps passed");
} catch (error) {
  failed = true;
  console.error(`browser step failed: ${error.stack ?? error}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
