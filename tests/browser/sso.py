"""Browser test of the dashboard's SSO sign-in (issue 27), run by
tests/it/sso.rs (`browser_sso_sign_in`) against a real server on port 0 and
the tests' mock OpenID provider.

The provider is reached as `localhost`, the server as `127.0.0.1`: two
different sites, so the browser applies SameSite as it would with a real
provider (the flow cookie must be `Lax`, and the session cookie `Strict`
must still be sent once the sign-in is over).

Environment: HUSH_URL, HUSH_IDP (the provider's URL), HUSH_EMAIL (whom the
provider signs in), HUSH_CHROMIUM, HUSH_SCREENSHOTS.
"""

import os
import re
import sys

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

URL = os.environ["HUSH_URL"]
IDP = os.environ["HUSH_IDP"]
EMAIL = os.environ["HUSH_EMAIL"]
SHOTS = os.environ["HUSH_SCREENSHOTS"]


def accessible(page):
    """Fails on serious or critical axe-core violations of the current page."""
    found = Axe().run(page).response["violations"]
    bad = [v["id"] for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, "accessibility violations on %s: %s" % (page.url, bad)


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ["HUSH_CHROMIUM"],
            headless=True,
            args=["--no-sandbox"],
        )
        page = browser.new_context(viewport={"width": 390, "height": 800}).new_page()
        page.set_default_timeout(10_000)
        problems = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        went_to_idp = []
        page.on("request", lambda r: r.url.startswith(IDP) and went_to_idp.append(r.url))

        page.goto(URL + "/")
        expect(page).to_have_url(re.compile(r"/sign-in"))
        button = page.get_by_role("link", name="Sign in with acme")
        expect(button).to_be_visible()
        accessible(page)
        page.screenshot(path=os.path.join(SHOTS, "sso-01-sign-in.png"), full_page=True)

        button.click()
        # At the provider's page, the person approves: the way back is a
        # navigation the provider's site starts.
        approve = page.get_by_role("link", name="Approve")
        expect(approve).to_be_visible()
        assert page.url.startswith(IDP), page.url
        approve.click()
        # Through the server's callback, signed in.
        expect(page.get_by_role("heading", name="Projects")).to_be_visible()
        expect(page.get_by_text(EMAIL)).to_be_visible()
        assert page.url.startswith(URL + "/projects"), page.url
        assert went_to_idp, "the browser never went to the provider"
        # The session is not readable by script.
        assert page.evaluate("document.cookie") == "", "a cookie is readable by script"
        page.screenshot(path=os.path.join(SHOTS, "sso-02-signed-in.png"), full_page=True)

        # Still signed in on the next page (the session cookie is sent).
        page.goto(URL + "/projects")
        expect(page.get_by_text(EMAIL)).to_be_visible()
        assert not problems, "browser errors: %r" % problems
        browser.close()
    print("ok   sso sign-in through the provider")


if __name__ == "__main__":
    try:
        main()
    except Exception:
        import traceback

        traceback.print_exc()
        sys.exit(1)
