"""The auditors' dashboard in a real headless Chromium (Debian's chromium + chromium-driver,
driven by selenium; nothing downloaded) against the real service seeded with >= 1,000
decisions and >= 50 deployments including rollbacks and incidents.

Every page loads with no console error, at 1,280 px no two labels overlap (element bounding
boxes) and nothing overflows sideways, text has AA contrast, the numbers shown equal those
of `audit report --format json` and `audit dora --format json` over the same ledger, and a
read token (or the dashboard's session) cannot reach a write endpoint.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gatekeeper.ledger.signing import generate_key_pem
from gatekeeper.server.service import ServiceSettings, StatePaths, open_service
from gatekeeper.server.tokens import Scope
from tests.conftest import run_cli
from tests.server.conftest import RunningServer, Workspace, running
from tests.server.dashboard_seed import SERVICES, Seeded, seed

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
NOW = datetime.now(UTC)

# Every visible leaf element that carries text; no two may intersect (containment aside).
OVERLAPS_JS = """
const sel = 'h1,h2,h3,p,li,dt,dd,th,td,caption,label,button,a,code,span,input,svg';
const all = [...document.querySelectorAll(sel)].filter(e => {
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'
    && r.right > 0 && r.bottom > 0;
});
const leaves = all.filter(e => !all.some(o => o !== e && e.contains(o)));
const boxes = leaves.map(e => ({e, r: e.getBoundingClientRect()}))
  .sort((a, b) => a.r.top - b.r.top);
const found = [];
for (let i = 0; i < boxes.length; i++) {
  const a = boxes[i];
  for (let j = i + 1; j < boxes.length && boxes[j].r.top < a.r.bottom - 1; j++) {
    const b = boxes[j];
    if (a.e.contains(b.e) || b.e.contains(a.e)) continue;
    const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
    const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
    if (w > 1 && h > 1) found.push([a.e.outerHTML.slice(0, 80), b.e.outerHTML.slice(0, 80)]);
  }
}
return {overlaps: found.slice(0, 5), count: found.length, leaves: leaves.length,
        scrollWidth: document.documentElement.scrollWidth};
"""

# WCAG contrast of each text leaf against the first opaque background behind it.
CONTRAST_JS = """
function rgb(c) { const m = c.match(/[0-9.]+/g).map(Number); return m; }
function lum(c) { const v = c.slice(0, 3).map(x => { x /= 255;
  return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; }
function bg(e) { while (e) { const c = rgb(getComputedStyle(e).backgroundColor);
  if (c.length < 4 || c[3] > 0) return c; e = e.parentElement; } return [255, 255, 255]; }
const worst = [];
for (const e of document.querySelectorAll('th,td,a,p,dt,dd,caption,label,li,button,h1,h2')) {
  if (!e.textContent.trim() || !e.getBoundingClientRect().width) continue;
  const a = lum(rgb(getComputedStyle(e).color)), b = lum(bg(e));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < 4.5) worst.push([e.tagName, e.textContent.trim().slice(0, 30), ratio]);
}
return worst.slice(0, 5);
"""


@dataclass
class Dashboard:
    server: RunningServer
    ledger: Path
    admin: str
    reader: str
    seeded: Seeded


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    root = tmp_path_factory.mktemp("dashboard")
    private, _ = generate_key_pem()
    key = root / "service.key"
    key.write_bytes(private)
    key.chmod(0o600)
    workspace = Workspace(root=root, key=key, policy=root, state=root / "state")
    service = open_service(
        StatePaths(state_dir=workspace.state), ServiceSettings(), key_path=key, env={}, cwd=root
    )
    try:
        seeded = seed(service.log.store, service.log.signer, root, now=NOW)
        service.log.sync()
        assert seeded.decisions >= 1000 and seeded.deployments >= 50
        assert seeded.rollbacks and seeded.incidents
        admin, _ = service.tokens.create("auditors", Scope.ADMIN)
        reader, _ = service.tokens.create(SERVICES[0], Scope.READ)
        with running(service, workspace) as server:
            yield Dashboard(server, workspace.state / "ledger.db", admin, reader, seeded)
    finally:
        service.close()


@pytest.fixture(scope="module")
def browser(dashboard: Dashboard) -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromium-driver are required in CI (apt: .ci/run)")
        pytest.skip("chromium or chromium-driver is not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--disable-extensions",
        "--no-first-run",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(120)
    try:
        driver.set_window_size(1280, 1000)
        _login(driver, dashboard.server.url, dashboard.admin)
        yield driver
    finally:
        driver.quit()


def _login(driver: Any, url: str, token: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(url + "/dashboard/")  # not signed in: the login form
    assert driver.current_url.endswith("/dashboard/login")
    field = driver.find_element(By.ID, "token")
    label = driver.find_element(By.CSS_SELECTOR, "label[for=token]")
    assert label.text == "Token"
    field.send_keys(token, Keys.ENTER)  # keyboard only
    assert driver.current_url.endswith("/dashboard/"), driver.page_source[:500]


def _check_page(driver: Any, url: str) -> None:
    driver.get(url)
    assert "Gatekeeper" in driver.title, driver.page_source[:300]
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == [], errors
    layout = driver.execute_script(OVERLAPS_JS)
    assert layout["count"] == 0, (url, layout["overlaps"])
    assert layout["scrollWidth"] <= 1280, (url, layout["scrollWidth"])
    assert layout["leaves"] > 10
    assert driver.execute_script(CONTRAST_JS) == [], url


def _cli_json(*args: str) -> dict[str, Any]:
    result = run_cli(*args)
    assert result.code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _shown_keys(driver: Any) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    cells = driver.find_elements(By.CSS_SELECTOR, "#dora tr[data-key] td.value")
    return {
        cell.find_element(By.XPATH, "..").get_attribute("data-key"): cell.get_attribute(
            "data-value"
        )
        for cell in cells
    }


def _expected(keys: dict[str, Any]) -> dict[str, str]:
    return {k: "" if v["value"] is None else str(v["value"]) for k, v in keys.items()}


@pytest.mark.e2e
def test_every_page_loads_cleanly_and_nothing_overlaps_at_1280px(
    dashboard: Dashboard, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    url = dashboard.server.url
    _check_page(browser, url + "/dashboard/")
    for name in SERVICES:
        _check_page(browser, f"{url}/dashboard/services/{name}")
    _check_page(browser, url + "/dashboard/waivers")
    _check_page(browser, url + "/dashboard/controls")
    control = browser.find_element(By.CSS_SELECTOR, "#controls tbody th a")
    _check_page(browser, control.get_attribute("href"))
    browser.get(f"{url}/dashboard/services/{SERVICES[0]}")
    links = browser.find_elements(By.CSS_SELECTOR, "main a[href*='/dashboard/decisions/']")
    assert links
    _check_page(browser, links[-1].get_attribute("href"))  # a failing one, with waivers
    assert "verifies" in browser.find_element(By.ID, "verification").text
    browser.save_screenshot(str(dashboard.ledger.parent / "decision.png"))
    for name in ("overview", "service"):
        browser.get(
            url + ("/dashboard/" if name == "overview" else f"/dashboard/services/{SERVICES[0]}")
        )
        browser.save_screenshot(str(dashboard.ledger.parent / f"{name}.png"))
    print("screenshots in", dashboard.ledger.parent)


@pytest.mark.e2e
def test_overview_numbers_equal_audit_report_and_audit_dora(
    dashboard: Dashboard, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(dashboard.server.url + "/dashboard/")
    report = _cli_json("audit", "report", "--ledger", str(dashboard.ledger), "--format", "json")
    summary = report["summary"]
    assert browser.find_element(By.ID, "stat-releases").text == str(summary["releases"])
    assert browser.find_element(By.ID, "stat-passed").text == str(summary["passed"])
    assert browser.find_element(By.ID, "stat-failed").text == str(summary["failed"])
    assert browser.find_element(By.ID, "stat-pass-rate").text == f"{summary['pass_rate']:.1f} %"
    assert summary["releases"] >= 1000
    section = browser.find_element(By.ID, "dora")
    period = section.get_attribute("data-from"), section.get_attribute("data-to")
    dora = _cli_json(
        "audit",
        "dora",
        "--ledger",
        str(dashboard.ledger),
        "--format",
        "json",
        "--from",
        period[0],
        "--to",
        period[1],
    )
    assert _shown_keys(browser) == _expected(dora["overall"])
    assert dora["overall"]["change_failure_rate"]["failed"] > 0  # rollbacks and incidents
    assert dora["overall"]["time_to_restore"]["value"] is not None
    # the seeded decisions carry commit_time: lead time is computed, from the records
    assert dora["overall"]["lead_time_for_changes"]["samples"] > 50


@pytest.mark.e2e
def test_service_page_shows_its_dora_keys_and_rollback_reasons(
    dashboard: Dashboard, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    name = SERVICES[1]
    browser.get(f"{dashboard.server.url}/dashboard/services/{name}")
    section = browser.find_element(By.ID, "dora")
    dora = _cli_json(
        "audit",
        "dora",
        "--ledger",
        str(dashboard.ledger),
        "--format",
        "json",
        "--service",
        name,
        "--from",
        section.get_attribute("data-from"),
        "--to",
        section.get_attribute("data-to"),
    )
    assert _shown_keys(browser) == _expected(dora["services"][name])
    history = browser.find_element(By.ID, "deploy-history").text
    assert "rolled_back" in history and "Mann-Whitney" in history
    assert len(browser.find_elements(By.CSS_SELECTOR, "#trend tbody tr")) == 12


@pytest.mark.e2e
def test_keyboard_reaches_the_content_first(dashboard: Dashboard, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(dashboard.server.url + "/dashboard/controls")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.text == "Skip to content"
    focused.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "main"


@pytest.mark.e2e
def test_a_read_token_and_the_dashboard_session_cannot_reach_write_endpoints(
    dashboard: Dashboard, browser: Any
) -> None:
    url = dashboard.server.url
    # A dashboard page may not call anything (Content-Security-Policy: no connect-src) ...
    browser.get(url + "/dashboard/")
    blocked = (
        "fetch('/v1/checkpoint').then(r => arguments[0](r.status), e => arguments[0]('blocked'))"
    )
    assert browser.execute_async_script(blocked) == "blocked"
    # ... so ask from a page of the same origin without that policy.
    browser.get(url + "/health/live")
    fetch = """
    const [path, method, token, done] = arguments;
    const headers = {'Content-Type': 'application/json'};
    if (token) headers['Authorization'] = 'Bearer ' + token;
    fetch(path, {method, headers, body: JSON.stringify({service: 'checkout-web'})})
      .then(r => done(r.status), e => done(String(e)));
    """
    writes = [
        ("/v1/incidents", "POST"),
        ("/v1/incidents/inc-0/resolve", "POST"),
        ("/v1/gate", "POST"),
        ("/v1/policies/x", "PUT"),
        ("/v1/policies/x", "DELETE"),
    ]
    size = dashboard.server.service.log.tree.size
    for path, method in writes:
        # the session cookie alone is not an API credential
        assert browser.execute_async_script(fetch, path, method, None) == 401
        assert browser.execute_async_script(fetch, path, method, dashboard.reader) in (403, 404)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {dashboard.reader}"}) as c:
        assert c.post("/v1/incidents", json={"service": SERVICES[0]}).status_code == 403
        assert c.get("/dashboard/").status_code == 200
        assert c.get(f"/dashboard/services/{SERVICES[1]}").status_code == 404  # not its project
    assert dashboard.server.service.log.tree.size == size
    browser.get_log("browser")  # the refused fetches are logged; later pages start clean


def test_pages_need_a_token_and_escape_what_users_wrote(
    workspace: Workspace, tmp_path: Path
) -> None:
    """No browser: the login redirect, the refused token, and release text holding markup
    shown as text, never as HTML."""
    (workspace.root / "evil.yaml").write_text(
        'service: shop\nversion: "1.0<script>alert(1)</script>"\n', encoding="utf-8"
    )
    service = workspace.open()
    try:
        with running(service, workspace) as server:
            token = server.token("shop", Scope.SUBMIT)
            submitted = server.submit(token, ["bad.cdx.json"], release="evil.yaml")
            assert submitted.status_code == 200, submitted.text
            decision_id = submitted.json()["decision"]["decision_id"]
            with httpx.Client(base_url=server.url) as anonymous:
                answer = anonymous.get("/dashboard/")
                assert answer.status_code == 303
                assert answer.headers["location"] == "/dashboard/login"
                refused = anonymous.post("/dashboard/login", data={"token": "gkt_nope"})
                assert refused.status_code == 401 and "not valid" in refused.text
                login = anonymous.post("/dashboard/login", data={"token": token})
                assert login.status_code == 303
                cookie = login.cookies.get("gk_dashboard")
                assert cookie and "httponly" in login.headers["set-cookie"].lower()
                anonymous.cookies.set("gk_dashboard", cookie, path="/dashboard")
                page = anonymous.get(f"/dashboard/decisions/{decision_id}")
            assert page.status_code == 200
            assert "<script>alert(1)</script>" not in page.text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
            assert "default-src 'none'" in page.headers["content-security-policy"]
            other = server.token("cart", Scope.READ)
            with server.client(other) as client:
                assert client.get(f"/dashboard/decisions/{decision_id}").status_code == 404
                assert client.get("/dashboard/services/shop").status_code == 404
    finally:
        service.close()


def test_a_login_holds_across_a_restart_and_ends_with_logout_or_revocation(
    workspace: Workspace,
) -> None:
    """Sessions live in the token store (shared by replicas), not in one process's memory:
    a cookie from before a restart still signs in; logging out, or revoking the token it was
    opened with, ends it for every process."""

    def page(server: RunningServer, cookie: str) -> int:
        with httpx.Client(base_url=server.url) as browser:
            browser.cookies.set("gk_dashboard", cookie, path="/dashboard")
            return browser.get("/dashboard/waivers").status_code

    def login(server: RunningServer, token: str) -> str:
        with httpx.Client(base_url=server.url) as browser:
            answer = browser.post("/dashboard/login", data={"token": token})
            assert answer.status_code == 303, answer.text
            cookie = answer.cookies.get("gk_dashboard")
            assert cookie
            return cookie

    first = workspace.open()
    try:
        with running(first, workspace) as server:
            token = server.token("shop", Scope.READ)
            kept, revoked_later = (
                login(server, token),
                login(server, server.token("shop", Scope.READ)),
            )
            leaving = login(server, token)
            assert page(server, kept) == 200
            assert page(server, "forged-" + "x" * 36) == 303  # to the login page
    finally:
        first.close()
    second = workspace.open()  # a restart (or another replica on the same token store)
    try:
        with running(second, workspace) as server:
            assert page(server, kept) == 200
            with httpx.Client(base_url=server.url) as browser:
                browser.cookies.set("gk_dashboard", leaving, path="/dashboard")
                assert browser.post("/dashboard/logout").status_code == 303
            assert page(server, leaving) == 303
            assert page(server, revoked_later) == 200
            (listed,) = [t for t in second.tokens.all() if t.id != token.split("_")[1]]
            assert second.tokens.revoke(listed.id)
            assert page(server, revoked_later) == 303
            assert page(server, kept) == 200
    finally:
        second.close()
