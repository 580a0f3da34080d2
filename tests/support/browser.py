"""A real browser for the page's tests: Debian's chromium, headless, driven by selenium
through Debian's chromedriver (both installed by `make setup`, as root, with apt).

    with browser(out_dir) as page:
        page.open(url); page.fill("new-passphrase", "…"); page.click("enrol")
        page.shot("records")              # out_dir/01-records.png
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
#: a phone's width: the page must work there
PHONE = (390, 844)
#: generous: scrypt and Umbral run in a loaded machine's browser
WAIT_S = 120.0
#: a desktop's width: the other layout the page is audited at
DESKTOP = (1280, 900)
#: Deque's axe-core, the accessibility engine of Lighthouse (web/package.json pins it)
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
#: WCAG 2.1 A and AA, the level a patient portal is held to
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def output_dir(name: str) -> Path:
    """Where a browser test saves its screenshots (``PHR_TEST_OUTPUT`` or .local/)."""
    base = Path(os.environ.get("PHR_TEST_OUTPUT", ROOT / ".local" / "test-output"))
    path = base / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def page_url(stack: Any) -> str:
    """The page's URL (owner-api's), asserting that owner-api serves a built page."""
    url: str = stack.page_url
    dist = ROOT / "web" / "dist" / "index.html"
    assert dist.is_file(), "build the page first: make web (make test does)"
    return url


class Page:
    """One browser tab on the patient's page, in words a test reads."""

    def __init__(self, driver: webdriver.Chrome, out: Path) -> None:
        self.d = driver
        self.out = out
        self.shots = 0

    def open(self, url: str) -> None:
        self.d.get(url)

    def go(self, route: str) -> None:
        """Follow the menu link to ``route`` (as a keyboard or mouse user would)."""
        self.d.find_element(By.CSS_SELECTOR, f'nav a[href="#/{route}"]').click()

    def el(self, css: str) -> WebElement:
        return self.d.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def wait(self, css: str, timeout: float = WAIT_S) -> WebElement:
        """The first element matching ``css`` once it is there and shown."""

        def found(_: Any) -> WebElement | bool:
            try:
                for e in self.d.find_elements(By.CSS_SELECTOR, css):
                    if e.is_displayed():
                        return e
            except StaleElementReferenceException:
                pass  # the page re-rendered between the find and the look: look again
            return False

        try:
            el: WebElement = WebDriverWait(self.d, timeout).until(found)
        except TimeoutException:
            self.shot("timeout")
            raise AssertionError(f"no {css!r} on the page; it says: {self.text()[:800]}") from None
        return el

    def until(self, check: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
        def holds(_: Any) -> bool:
            try:
                return check()
            except StaleElementReferenceException:
                return False

        try:
            WebDriverWait(self.d, timeout).until(holds)
        except TimeoutException:
            self.shot("timeout")
            raise AssertionError(f"{what}; the page says: {self.text()[:800]}") from None

    def fill(self, name: str, text: str) -> None:
        box = self.el(f'[name="{name}"]')
        box.clear()
        box.send_keys(text)

    def set_value(self, name: str, value: str) -> None:
        """Set a control whose typing is locale-bound (a date: ``2099-06-30``)."""
        box = self.el(f'[name="{name}"]')
        self.d.execute_script("arguments[0].value = arguments[1]", box, value)

    def click(self, element_id: str) -> None:
        self.el(f"#{element_id}").click()

    def text(self, css: str = "main") -> str:
        return "\n".join(e.text for e in self.all(css))

    def shot(self, name: str) -> Path:
        """A screenshot of the whole page, numbered in the order taken."""
        self.shots += 1
        path = self.out / f"{self.shots:02d}-{name}.png"
        width = self.d.execute_script("return document.documentElement.scrollWidth")
        height = self.d.execute_script("return document.documentElement.scrollHeight")
        # at most a few screens tall: a renderer on a loaded machine times out beyond
        self.d.set_window_size(max(PHONE[0], width), min(max(PHONE[1], height + 100), 4000))
        self.d.save_screenshot(str(path))
        self.d.set_window_size(*PHONE)
        return path

    def accessibility(self, where: str) -> list[str]:
        """axe-core's WCAG 2.1 A/AA violations of the page as shown, at a phone's and a
        desktop's width: ``"<rule> (<impact>) at <width>px: <selector> …"``, one per rule.

        WebDriver runs the script outside the page's CSP, so nothing is loosened for it."""
        assert AXE.is_file(), "npm ci in web/ (make setup does) installs axe-core"
        found = []
        for width, height in (PHONE, DESKTOP):
            self.d.set_window_size(width, height)
            if not self.d.execute_script("return typeof window.axe === 'object'"):
                self.d.execute_script(AXE.read_text())
            result = self.d.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
                ".then(r => done(r.violations.map(v => [v.id, v.impact,"
                " v.nodes.slice(0, 3).map(n => n.target.join(' '))])),"
                " e => done([['axe-failed', 'critical', [String(e)]]]));",
                AXE_TAGS,
            )
            found += [
                f"{rule} ({impact}) at {width}px on {where}: {nodes}"
                for rule, impact, nodes in result
            ]
        self.d.set_window_size(*PHONE)
        return found

    def console_errors(self) -> list[str]:
        """What the browser logged as errors (a CSP violation is one)."""
        return [e["message"] for e in self.d.get_log("browser") if e["level"] == "SEVERE"]

    def offline(self, off: bool) -> None:
        """Cut the browser's network (the DevTools network conditions), or restore it."""
        self.d.set_network_conditions(
            offline=off, latency=0, download_throughput=-1, upload_throughput=-1
        )


@contextmanager
def browser(out: Path) -> Iterator[Page]:
    """Headless chromium at a phone's width (no sandbox: CI runs as root)."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "install chromium and chromium-driver: make setup (as root)"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        opts.add_argument(arg)
    opts.add_argument(f"--window-size={PHONE[0]},{PHONE[1]}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(driver), options=opts)
    d.set_script_timeout(WAIT_S)
    try:
        yield Page(d, out)
    finally:
        d.quit()


__all__ = ["Page", "browser", "output_dir", "page_url"]
