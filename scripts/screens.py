"""Screenshots of every page at the widths a class uses, for docs/screens/, and a list of cut-off text.

    python3 scripts/screens.py http://127.0.0.1:8501 docs/screens [home,draw,... [1024,1280,1920,phone]]

Needs a running app (with a trained run, so that every page has something to show), Python Playwright and
Debian's chromium. Each page is shot at 1024 and 1280 px (900 px high), at 1920x1080 and on a 390x844 phone
screen, as the first screen a visitor sees (not the whole page: the docs stay small). On the Draw page a "1" is
drawn first.
Prints every piece of the app's text that the browser cut with an ellipsis (see CUT_TEXT_SCRIPT).
"""

import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PAGES = ["", "datasets", "train", "results", "draw", "inside", "class_set"]
SCREENS = {"1024": {"width": 1024, "height": 900}, "1280": {"width": 1280, "height": 900},
           "1920": {"width": 1920, "height": 1080}, "phone": {"width": 390, "height": 844}}

# Text the browser cut: an element whose own text overflows its box with `text-overflow: ellipsis`, and
# visible text that ends in an ellipsis, in the page's main area (not the sidebar's navigation). The app writes
# "…" itself only in passing messages ("Loading the model…") and in code blocks, which are left out.
CUT_TEXT_SCRIPT = """
() => {
  const cut = [];
  const main = document.querySelector("[data-testid='stMain']");
  if (!main) { return cut; }
  for (const element of main.querySelectorAll("*")) {
    // A code block shows text as the app wrote it (the flattened image ends in its own "…" on purpose).
    if (element.closest("pre, code")) { continue; }
    const style = getComputedStyle(element);
    if (style.visibility === "hidden" || style.display === "none") { continue; }
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) { continue; }
    const own = Array.from(element.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join("").trim();
    const overflows = element.scrollWidth > element.clientWidth + 1;
    if (style.textOverflow === "ellipsis" && overflows && element.innerText.trim()) {
      cut.push(element.innerText.trim().slice(0, 80));
    } else if (own && /(\\u2026|\\.\\.\\.)$/.test(own)) {
      cut.push(own.slice(0, 80));
    }
  }
  // Plotly draws its titles and annotations in SVG: a title that was shortened ends in an ellipsis too.
  for (const text of main.querySelectorAll(".js-plotly-plot text")) {
    const value = (text.textContent || "").trim();
    if (/(\\u2026|\\.\\.\\.)$/.test(value)) { cut.push(value.slice(0, 80)); }
  }
  return cut;
}
"""


def wait_for_app(page) -> None:
    page.wait_for_selector("[data-testid='stApp']")
    time.sleep(0.5)
    page.wait_for_selector("[data-test-script-state='notRunning']")
    time.sleep(1.5)


def draw_a_one(page) -> None:
    canvas = page.locator("canvas.upper-canvas")
    if canvas.count() != 1:
        return
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 240, steps=12)
    page.mouse.up()
    wait_for_app(page)


def shoot(base_url: str, folder: Path, pages=PAGES, screens=tuple(SCREENS)) -> dict[str, list[str]]:
    folder.mkdir(parents=True, exist_ok=True)
    found = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for screen in screens:
            viewport = SCREENS[screen]
            phone = screen == "phone"
            context = browser.new_context(viewport=viewport, has_touch=phone, is_mobile=phone)
            page = context.new_page()
            page.set_default_timeout(120_000)
            for path in pages:
                page.goto(f"{base_url.rstrip('/')}/{path}")
                wait_for_app(page)
                if path == "draw":
                    draw_a_one(page)
                name = path or "home"
                page.screenshot(path=str(folder / f"{name}-{screen}.png"))
                found[f"{name}-{screen}"] = page.evaluate(CUT_TEXT_SCRIPT)
            context.close()
        browser.close()
    return found


if __name__ == "__main__":
    url, out = sys.argv[1], Path(sys.argv[2])
    # Optional: which pages ("home" for the first) and which screens, comma-separated.
    chosen_pages = [("" if name == "home" else name) for name in sys.argv[3].split(",")] if len(sys.argv) > 3 else PAGES
    chosen_screens = sys.argv[4].split(",") if len(sys.argv) > 4 else tuple(SCREENS)
    for shot, texts in shoot(url, out, chosen_pages, chosen_screens).items():
        print(shot, texts if texts else "no cut text")
