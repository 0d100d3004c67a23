"""Debian's Chromium driven by Playwright, for the browser tests (portal, dashboard).

``playwright install`` (its own browser download) cannot work here: the project's set-up installs
Debian's package (Makefile), launched with the flags that let it run headless in a sandbox."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 30_000


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def guarded_page(browser: Browser, base_url: str, allowed: set[str] = frozenset()) -> Iterator[Page]:
    """A fresh context (own session storage) on ``base_url``. Any request to a host other than the
    gateway's or one in ``allowed`` (host:port) is aborted and fails the test, as does any
    JavaScript error on the page."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 1366, "height": 900}, base_url=base_url)
    context.set_default_timeout(TIMEOUT_MS)
    hosts, outside = {urlsplit(base_url).netloc, *allowed}, []

    def guard(route):
        url = urlsplit(route.request.url)
        if url.scheme in ("blob", "data") or url.netloc in hosts:
            return route.continue_()
        outside.append(route.request.url)
        return route.abort()

    context.route("**/*", guard)
    errors: list[str] = []
    opened = context.new_page()
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert outside == [], f"requests outside {sorted(hosts)}: {outside}"
    assert errors == [], f"JavaScript errors: {errors}"
