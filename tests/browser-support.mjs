// What the apps' browser tests (examples/ledger/tests/browser.mjs,
// examples/inference/tests/browser.mjs) share: collecting the page's problems (script errors,
// and anything the page's Content-Security-Policy blocks, which otherwise does nothing
// silently), failing on horizontal overflow, and screenshots at a phone's and a desktop's
// width. Not here: the steps themselves, or launching the browser (each test does that).

/** Watches `page` and returns the list its problems are pushed to. */
export function watchProblems(page) {
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && message.text().includes("Content Security Policy")) {
      problems.push(`blocked by the CSP: ${message.text()}`);
    }
  });
  return problems;
}

/** Throws when the page is wider than its window (`what` names the page and width). */
export async function noOverflow(page, what) {
  const [scroll, inner] = await page.evaluate(() => [
    document.documentElement.scrollWidth,
    window.innerWidth,
  ]);
  if (scroll > inner) throw new Error(`${what}: the page is ${scroll}px wide in a ${inner}px window`);
}

/** Checks for overflow and takes a full-page screenshot at 390 px and at 1,440 px, into
 * `shots` as `{name}-{width}.png`, then goes back to 1,440 px. */
export async function shoot(page, shots, name) {
  for (const width of [390, 1440]) {
    await page.setViewportSize({ width, height: 900 });
    await noOverflow(page, `${name} at ${width}px`);
    await page.screenshot({ path: `${shots}/${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1440, height: 900 });
}
