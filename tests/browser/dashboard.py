"""Browser tests of the hush dashboard (issue 27), run by tests/it/dashboard.rs
(`browser_walkthrough`) against a real server it started on port 0.

Drives Debian's headless Chromium through Playwright (PyPI `playwright`,
`executable_path` = the system Chromium: no browser download). Each scenario
saves a screenshot to $HUSH_SCREENSHOTS. Exits non-zero on the first failure,
naming the scenario.

Every page a scenario visits is also checked by axe-core (PyPI
`axe-playwright-python`, which ships it; injected by the test only, never
served by hush): a serious or critical violation fails the run.

Environment: HUSH_URL, HUSH_ADMIN, HUSH_VIEWER, HUSH_PASSWORD, HUSH_CHROMIUM,
HUSH_SCREENSHOTS. The server holds DATABASE_URL in dev and prod with different
values, and the viewer is a viewer of project `default`.
"""

import os
import re
import sys
import traceback

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

URL = os.environ["HUSH_URL"]
ADMIN = os.environ["HUSH_ADMIN"]
VIEWER = os.environ["HUSH_VIEWER"]
PASSWORD = os.environ["HUSH_PASSWORD"]
SHOTS = os.environ["HUSH_SCREENSHOTS"]

VALUE_1 = "browser-canary-v1-4d2a"
VALUE_2 = "browser-canary-v2-9c1e"
DEV = URL + "/p/default/env/dev?path=%2F"


AXE = Axe()
# Pages already checked (by path, without the query), so each is checked once.
CHECKED = set()


def accessible(page):
    """Fails on serious or critical axe-core violations of the current page."""
    found = AXE.run(page).response["violations"]
    bad = [
        "%s (%s): %s" % (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, "accessibility violations on %s: %s" % (page.url, bad)


def shot(page, name):
    path = page.url.split("?")[0]
    if path not in CHECKED and page.url.startswith(URL):
        CHECKED.add(path)
        accessible(page)
    page.screenshot(path=os.path.join(SHOTS, name + ".png"), full_page=True)


def sign_in(page, email):
    page.goto(URL + "/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()


def test_sign_in(page):
    sign_in(page, ADMIN)
    expect(page.get_by_text(ADMIN)).to_be_visible()
    shot(page, "01-projects")


def test_create_secret(page):
    page.goto(DEV)
    page.get_by_label("Key", exact=True).fill("STRIPE_KEY")
    page.get_by_label("Value", exact=True).fill(VALUE_1)
    page.get_by_label("Comment (optional)", exact=True).fill("payments")
    page.get_by_label("Tags (optional, key=value separated by commas)", exact=True).fill("team=payments")
    page.get_by_role("button", name="Add secret").click()
    expect(page.get_by_role("status")).to_contain_text("Secret created")
    row = page.locator("tr[data-key=STRIPE_KEY]")
    expect(row).to_be_visible()
    expect(row.locator("ul.tags")).to_have_text("team=payments")
    # Masked: the value is nowhere in the page.
    assert VALUE_1 not in page.content(), "the value is in the folder page"
    shot(page, "02-folder")


def test_reveal(page):
    page.goto(DEV)
    page.get_by_role("button", name="Reveal STRIPE_KEY").click()
    expect(page.locator("#revealed")).to_have_text(VALUE_1)
    assert VALUE_1 not in page.url
    shot(page, "03-revealed")


def test_copy_to_clipboard(page):
    # The context was granted clipboard permissions for the server's origin.
    page.evaluate("navigator.clipboard.writeText('nothing yet')")
    copy = page.locator("button.copy")
    expect(copy).to_have_text("Copy")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == VALUE_1
    shot(page, "03b-copied")


def test_bulk_paste(page):
    page.goto(DEV)
    page.get_by_label(".env block", exact=True).fill(
        "# from a teammate\nexport SENTRY_DSN=https://sentry.example/1\nSMTP_PASSWORD='bulk-canary-7e1'\n"
    )
    page.get_by_role("button", name="Save all").click()
    expect(page.get_by_role("status")).to_contain_text("pasted block")
    expect(page.locator("tr[data-key=SENTRY_DSN]")).to_be_visible()
    expect(page.locator("tr[data-key=SMTP_PASSWORD]")).to_be_visible()
    assert "bulk-canary" not in page.content()
    # A bad line: the whole block is refused, the line named, no value shown.
    page.get_by_label(".env block", exact=True).fill("GOOD=1\nnot a line bulk-canary-8\n")
    page.get_by_role("button", name="Save all").click()
    expect(page.get_by_role("alert")).to_contain_text("line 2")
    assert "bulk-canary" not in page.content()
    page.go_back()
    page.goto(DEV)
    expect(page.locator("tr[data-key=GOOD]")).to_have_count(0)
    shot(page, "03c-pasted")


def test_edit(page):
    page.goto(URL + "/p/default/env/dev/secrets/STRIPE_KEY?path=%2F")
    page.get_by_label("New value (leave empty to keep the current one)", exact=True).fill(VALUE_2)
    page.get_by_label("Comment", exact=True).fill("rotated")
    page.get_by_role("button", name="Save as version 2").click()
    expect(page.get_by_role("status")).to_contain_text("new version")
    shot(page, "04-edited")


def test_history_shows_the_new_version(page):
    page.goto(URL + "/p/default/env/dev/secrets/STRIPE_KEY?path=%2F")
    history = page.locator("table.history")
    expect(history.locator("tr[data-version='2']")).to_contain_text(ADMIN)
    expect(history.locator("tr[data-version='2']")).to_contain_text("rotated")
    expect(history.locator("tr[data-version='1']")).to_be_visible()
    shot(page, "05-history")


def test_diff_of_two_versions(page):
    page.goto(URL + "/p/default/env/dev/secrets/STRIPE_KEY?path=%2F")
    page.get_by_label("Compare version", exact=True).select_option("1")
    page.get_by_label("with version", exact=True).select_option("2")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("tr[data-row=value]")).to_contain_text("changed")
    assert VALUE_1 not in page.content() and VALUE_2 not in page.content()
    shot(page, "05b-diff")
    page.get_by_role("button", name="Reveal both values").click()
    expect(page.locator("pre.diff .removed")).to_have_text("- " + VALUE_1 + "\n")
    expect(page.locator("pre.diff .added")).to_have_text("+ " + VALUE_2 + "\n")
    shot(page, "05c-diff-revealed")


def test_rollback(page):
    page.goto(URL + "/p/default/env/dev/secrets/STRIPE_KEY?path=%2F")
    page.get_by_role("button", name="Roll back to v1").click()
    expect(page.get_by_role("status")).to_contain_text("Rolled back")
    expect(page.locator("table.history tr[data-version='3']")).to_contain_text("rollback")
    page.get_by_role("button", name="Reveal value").click()
    expect(page.locator("#revealed")).to_have_text(VALUE_1)
    shot(page, "06-rolled-back")


def test_delete_and_restore(page):
    page.goto(URL + "/p/default/env/dev/secrets/STRIPE_KEY?path=%2F")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete secret").click()
    expect(page.get_by_role("status")).to_contain_text("Secret deleted")
    expect(page.locator("tr[data-key=STRIPE_KEY]")).to_have_count(0)
    page.get_by_role("button", name="Restore STRIPE_KEY").click()
    expect(page.get_by_role("status")).to_contain_text("Secret restored")
    expect(page.locator("tr[data-key=STRIPE_KEY]")).to_be_visible()
    shot(page, "07-restored")


def test_overview_shows_the_difference(page):
    page.goto(URL + "/p/default?path=%2F")
    row = page.locator("tr[data-key=DATABASE_URL]")
    expect(row.locator("td.differs")).to_have_text("differs")
    assert "dev-host" not in page.content() and "prod-host" not in page.content()
    page.get_by_label("Filter keys", exact=True).fill("database")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-key=STRIPE_KEY]")).to_have_count(0)
    expect(row).to_be_visible()
    shot(page, "08-overview")
    # By tag: STRIPE_KEY carries team=payments, DATABASE_URL no tag.
    page.get_by_label("Filter keys", exact=True).fill("")
    page.get_by_label("Tag", exact=True).fill("team")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-key=STRIPE_KEY]")).to_be_visible()
    expect(row).to_have_count(0)


def test_csrf_less_post_is_refused(page):
    # A form another page could build: same fields, no token.
    status = page.evaluate(
        """async () => {
            const body = new URLSearchParams({path: '/', key: 'NO_TOKEN', value: 'x'});
            const r = await fetch('/p/default/env/dev/secrets', {method: 'POST', body});
            return r.status;
        }"""
    )
    assert status == 403, status
    page.goto(DEV)
    expect(page.locator("tr[data-key=NO_TOKEN]")).to_have_count(0)
    shot(page, "09-csrf")


def test_audit_shows_the_reveal(page):
    page.goto(URL + "/p/default/audit")
    page.get_by_label("Action", exact=True).fill("get-secret")
    page.get_by_role("button", name="Filter").click()
    table = page.locator("table.audit")
    expect(table).to_contain_text("STRIPE_KEY")
    expect(table).to_contain_text(ADMIN)
    assert VALUE_1 not in page.content()
    shot(page, "10-audit")


def test_audit_live_tail(page):
    page.goto(URL + "/p/default/audit?action=create-secret")
    page.get_by_role("checkbox", name=re.compile("Live")).check()
    expect(page.locator("#tail-status")).to_contain_text("Following")
    # Someone adds a secret in another tab; it appears without a reload.
    other = page.context.new_page()
    other.goto(DEV)
    other.get_by_label("Key", exact=True).fill("TAILED_KEY")
    other.get_by_label("Value", exact=True).fill("tail-canary-5")
    other.get_by_role("button", name="Add secret").click()
    expect(other.get_by_role("status")).to_contain_text("Secret created")
    other.close()
    expect(page.locator("table.audit tbody tr").first).to_contain_text("TAILED_KEY", timeout=15_000)
    expect(page.locator("#tail-status")).to_contain_text("new event")
    assert "tail-canary" not in page.content()
    page.get_by_role("checkbox", name=re.compile("Live")).uncheck()
    shot(page, "10b-audit-tail")


def test_members_and_tokens(page):
    page.goto(URL + "/p/default?path=%2F")
    page.get_by_role("link", name="Members and tokens").click()
    expect(page.locator("tr[data-member='viewer@example.com']")).to_contain_text("user")
    page.get_by_label("Name", exact=True).fill("ci-deploy")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#token-once").inner_text()
    assert token.startswith("hush_"), token
    page.get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == token
    shot(page, "15-token-once")
    page.goto(URL + "/p/default/access")
    assert token not in page.content(), "the token is shown twice"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke ci-deploy").click()
    expect(page.get_by_role("status")).to_contain_text("Token revoked")
    expect(page.locator("tr[data-token=ci-deploy]")).to_have_count(0)
    shot(page, "16-members")


def test_machine_identities(page):
    page.goto(URL + "/projects")
    page.get_by_role("link", name="Machine identities").click()
    page.get_by_label(re.compile("^Name")).fill("deploy-bot")
    page.get_by_role("button", name="Create identity").click()
    secret = page.locator("#secret-once").inner_text()
    assert secret.startswith("hush_cs_"), secret
    shot(page, "16b-identity-created")
    page.goto(URL + "/identities")
    expect(page.locator("tr[data-identity=deploy-bot]")).to_contain_text("universal auth")
    assert secret not in page.content()


def test_settings(page):
    page.goto(URL + "/p/default/settings")
    page.get_by_label("Slug (letters, digits, '-')", exact=True).fill("qa")
    page.get_by_role("button", name="Add environment").click()
    expect(page.get_by_role("status")).to_contain_text("Environment added")
    expect(page.locator("tr[data-env=qa]")).to_be_visible()
    # Rename it (the slug stays) and change the project's limits.
    page.get_by_label("New name of qa", exact=True).fill("Quality assurance")
    page.get_by_role("button", name="Rename qa").click()
    expect(page.get_by_role("status")).to_contain_text("Environment renamed")
    expect(page.locator("tr[data-env=qa] th")).to_have_text("Quality assurance")
    page.get_by_label(re.compile(r"^Versions kept per secret")).fill("25")
    page.get_by_label(re.compile(r"^Days a deleted secret stays recoverable")).fill("7")
    page.get_by_role("button", name="Save limits").click()
    expect(page.get_by_role("status")).to_contain_text("Limits saved")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("25")
    expect(facts).to_contain_text("7 days")
    shot(page, "17-settings")


def test_sign_in_page_is_accessible(page):
    # Checked before signing the viewer in (the page has no session).
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("Signed out")
    shot(page, "18-sign-in")
    sign_in(page, ADMIN)


def test_viewer_cannot_edit(page):
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("Signed out")
    sign_in(page, VIEWER)
    page.goto(DEV)
    expect(page.locator("tr[data-key=STRIPE_KEY]")).to_be_visible()
    expect(page.get_by_role("button", name="Add secret")).to_have_count(0)
    page.goto(URL + "/p/default/env/dev/secrets/STRIPE_KEY?path=%2F")
    expect(page.get_by_role("button", name="Delete secret")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Save as"))).to_have_count(0)
    # Forged: the viewer's own valid token, a form the page does not offer.
    status = page.evaluate(
        """async () => {
            const csrf = document.querySelector('input[name=csrf]').value;
            const body = new URLSearchParams({csrf, path: '/', value: 'forged', if_version: '3'});
            const r = await fetch('/p/default/env/dev/secrets/STRIPE_KEY/edit', {method: 'POST', body});
            return r.status;
        }"""
    )
    assert status == 403, status
    shot(page, "11-viewer")


def test_phone_width(page):
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(URL + "/p/default?path=%2F")
    expect(page.locator("tr[data-key=DATABASE_URL]")).to_be_visible()
    shot(page, "12-phone")


def test_dark_theme_follows_the_system(page):
    page.set_viewport_size({"width": 1200, "height": 800})
    page.emulate_media(color_scheme="dark")
    page.goto(URL + "/p/default/env/dev/secrets/STRIPE_KEY?path=%2F")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)", background
    # The dark theme is checked too (contrast differs per theme).
    accessible(page)
    page.goto(DEV)
    accessible(page)
    shot(page, "13-dark")
    page.emulate_media(color_scheme="light")


def test_keyboard_reaches_the_form_with_visible_focus(page):
    page.goto(URL + "/p/default?path=%2F")
    page.get_by_label("Filter keys", exact=True).focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "tag"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Filter"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid", outline
    shot(page, "14-focus")


SCENARIOS = [
    test_sign_in,
    test_create_secret,
    test_reveal,
    test_copy_to_clipboard,
    test_bulk_paste,
    test_edit,
    test_history_shows_the_new_version,
    test_diff_of_two_versions,
    test_rollback,
    test_delete_and_restore,
    test_overview_shows_the_difference,
    test_csrf_less_post_is_refused,
    test_audit_shows_the_reveal,
    test_audit_live_tail,
    test_members_and_tokens,
    test_machine_identities,
    test_settings,
    test_sign_in_page_is_accessible,
    test_viewer_cannot_edit,
    test_phone_width,
    test_dark_theme_follows_the_system,
    test_keyboard_reaches_the_form_with_visible_focus,
]


def main():
    failed = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ["HUSH_CHROMIUM"],
            headless=True,
            args=["--no-sandbox"],
        )
        context = browser.new_context(viewport={"width": 1200, "height": 800})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=URL)
        page = context.new_page()
        page.set_default_timeout(10_000)
        # Any script error or CSP violation fails the run.
        problems = []
        # (A refused fetch of a scenario logs "Failed to load resource": expected.)
        page.on(
            "console",
            lambda m: m.type == "error"
            and "Failed to load resource" not in m.text
            and problems.append(m.text),
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        for scenario in SCENARIOS:
            try:
                scenario(page)
                if problems:
                    raise AssertionError("browser console errors: %r" % problems)
                print("ok  ", scenario.__name__)
            except Exception:
                failed += 1
                print("FAIL", scenario.__name__)
                traceback.print_exc()
                shot(page, "FAILED-" + scenario.__name__)
                break
        browser.close()
    if not failed:
        print("axe-core: %d pages checked, no serious or critical violations" % len(CHECKED))
        if len(CHECKED) < 12:
            print("FAIL too few pages were checked by axe-core: %s" % sorted(CHECKED))
            failed = 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
