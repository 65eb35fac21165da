"""The operator console in a real browser (Debian's headless Chromium, driven by Selenium through
chromium-driver) against a real loyaltyd with seeded data: sign in, find a member by phone, open
their page, adjust points with a reason and see the ledger and balance change, read the program's
history and validate a broken draft with the error at its key. Throughout: no request carries the
key in its URL, the page logs no JavaScript error, and axe-core (injected from the console's npm
packages) finds no serious or critical accessibility violation. Screenshots at 1280x800 and
390x844 of each screen go to $CONSOLE_SCREENSHOTS (a temporary folder by default), not to git."""
import json
import os
from datetime import datetime, timedelta, timezone
import shutil
import tempfile
import unittest

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select, WebDriverWait

from harness import ADMIN_KEY, POS_KEY, SOURCE_DIR, Server, line, purchase_body

AXE = os.path.join(SOURCE_DIR, "console", "node_modules", "axe-core", "axe.min.js")
PHONE = "13700001234"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


class ConsoleInABrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        s = cls.server
        assert s.signup("cs-member-1", phone=PHONE, card_no="CS-CARD-1").status == 201
        assert s.signup("cs-member-2").status == 201
        r = s.request("POST", "/v1/members/cs-member-1/adjustments",
                      {"adjustment_id": "seed-1", "points": 120, "reason": "welcome gift"})
        assert r.status == 201, r
        bought_at = datetime.now(timezone.utc) - timedelta(minutes=2)
        r = s.purchase(purchase_body("cs-buy-1", "cs-member-2", [line("latte", "food", 5000)],
                                     occurred_at=bought_at.strftime("%Y-%m-%dT%H:%M:%SZ")))
        assert r.status == 200, r
        r = s.request("POST", "/v1/webhooks", {"url": "https://crm.invalid/hooks",
                                               "description": "the CRM"})
        assert r.status == 201, r
        cls.profile = tempfile.mkdtemp(prefix="loyalty-chromium-")
        cls.shots = os.environ.get("CONSOLE_SCREENSHOTS") or tempfile.mkdtemp(
            prefix="loyalty-console-shots-")
        os.makedirs(cls.shots, exist_ok=True)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        # Headless, and quiet on a machine without internet (no updates, sync or QUIC probes).
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--lang=en-US",
                     f"--user-data-dir={cls.profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        cls.browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        cls.browser.set_window_size(*SIZES["desktop"])
        cls.url = f"http://127.0.0.1:{s.port}/console/"
        cls.requests = []

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        shutil.rmtree(cls.profile, ignore_errors=True)
        cls.server.cleanup()

    def wait_for(self, condition, seconds=10):
        return WebDriverWait(self.browser, seconds).until(condition)

    def find(self, css):
        return self.wait_for(seen.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def text_of(self, css, text, seconds=10):
        self.wait_for(seen.text_to_be_present_in_element((By.CSS_SELECTOR, css), text), seconds)

    def type_into(self, css, text):
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def look(self, screen):
        """What every screen owes: screenshots at both sizes, nothing wider than a phone's
        screen at 390 px (wide tables scroll inside themselves), and no serious axe violation."""
        for size, (width, height) in SIZES.items():
            self.browser.set_window_size(width, height)
            self.browser.save_screenshot(os.path.join(self.shots, f"{screen}-{size}.png"))
            overflow = self.browser.execute_script(
                "const e = document.documentElement; return e.scrollWidth - e.clientWidth;")
            wide = self.browser.execute_script("""
                const width = document.documentElement.clientWidth;
                return [...document.querySelectorAll("body *")]
                  .filter(e => e.getBoundingClientRect().right > width + 1 &&
                               e.parentElement.getBoundingClientRect().right <= width + 1)
                  .slice(0, 6).map(e => e.tagName + "#" + e.id + "." + e.className);""")
            self.assertLessEqual(overflow, 0, f"{screen} at {size}: wider than the screen: {wide}")
        self.browser.set_window_size(*SIZES["desktop"])
        with open(AXE) as f:
            self.browser.execute_script(f.read())
        result = self.browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document).then(r => done(JSON.stringify(r.violations)));")
        serious = [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]])
                   for v in json.loads(result) if v["impact"] in ("serious", "critical")]
        self.assertEqual(serious, [], f"{screen}: accessibility violations")
        self.collect_logs(screen)

    def set_text(self, textarea_id, text):
        """Puts a whole program in a textarea at once (typing it key by key takes seconds)."""
        self.browser.execute_script("""
            const field = document.getElementById(arguments[0]);
            Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value")
              .set.call(field, arguments[1]);
            field.dispatchEvent(new Event("input", { bubbles: true }));""", textarea_id, text)

    def keys(self, *keys):
        ActionChains(self.browser).send_keys(*keys).perform()

    def tab_to(self, css, presses=120):
        """Moves the focus with Tab alone until it is on `css`; fails if Tab never gets there."""
        target = self.find(css)
        for _ in range(presses):
            if self.browser.switch_to.active_element == target:
                return target
            self.keys(Keys.TAB)
        self.fail(f"{css} cannot be reached with the Tab key")

    def collect_logs(self, screen):
        # A refusal the page handles (the till's key at sign-in: 403) is logged by the browser as
        # a failed load ("network"); a script error or console.error is not one of those.
        errors = [entry for entry in self.browser.get_log("browser")
                  if entry["level"] == "SEVERE" and entry.get("source") != "network"]
        self.assertEqual(errors, [], f"{screen}: the page logged errors")
        for entry in self.browser.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"])

    def test_an_operator_works_without_a_terminal(self):
        b = self.browser
        b.get(self.url)
        # Sign in: a till's key is refused; the admin key is taken.
        self.type_into("#key", POS_KEY)
        self.find("form button[type=submit]").click()
        self.text_of("[role=alert]", "not an admin key")
        self.look("sign-in")
        self.type_into("#key", ADMIN_KEY)
        self.find("form button[type=submit]").click()

        # Overview, the first screen: its figures are the server's, its charts drawn, and the
        # same figures are in tables for screen readers.
        stats = self.server.request("GET", "/v1/stats").json
        self.assertEqual(stats["members"], 2)
        self.text_of("#stat-members", "2")
        self.text_of("#stat-active", "1")  # cs-member-2 bought two minutes ago
        self.text_of("#stat-outstanding", f"{stats['liability']['outstanding']:,}")
        self.find("canvas#points-by-day-chart")
        self.find("canvas#liability-by-month-chart")
        self.find("canvas#tiers-chart")
        today = stats["points_by_day"][-1]
        self.assertGreater(today["issued"], 0, stats)
        rows = [[cell.get_attribute("textContent") for cell in row.find_elements(By.TAG_NAME, "td")]
                for row in self.browser.find_elements(By.CSS_SELECTOR, "#points-by-day-table tbody tr")]
        self.assertEqual(len(rows), 30)
        self.assertEqual(rows[-1][:2], [today["date"], f"{today['issued']:,}"])
        self.look("overview")

        # Members: every member of a tier, then one found by phone, whose page opens.
        self.find("nav a[href='#/members']").click()
        self.wait_for(lambda b: b.find_elements(By.CSS_SELECTOR, "#member-tier option[value=green]"))
        Select(self.find("#member-tier")).select_by_value("green")
        self.find("form[role=search] button").click()
        self.find("table a[href='#/members/cs-member-2']")
        self.find("table a[href='#/members/cs-member-1']")
        Select(self.find("#member-tier")).select_by_value("")
        self.type_into("#member-query", PHONE)
        self.find("form[role=search] button").click()
        link = self.find("table a[href='#/members/cs-member-1']")
        self.look("members")
        link.click()
        self.text_of("#balance-available", "120")
        self.text_of("#ledger", "welcome gift")

        # Adjust with a reason: the balance and the ledger show it.
        self.type_into("#adjust-points", "35")
        self.type_into("#adjust-reason", "apology for a late order")
        self.find("#adjust-points").submit()
        self.text_of("#balance-available", "155")
        self.text_of("#ledger tbody tr:first-child", "apology for a late order")
        self.text_of("#ledger tbody tr:first-child", "+35")
        self.text_of("#ledger tbody tr:first-child", "dev-admin")  # who made it
        self.look("member")
        r = self.server.request("GET", "/v1/members/cs-member-1")
        self.assertEqual(r.json["balance"]["available"], 155, "the server has it too")

        # Block, then unblock, each with the reason the audit keeps: the page and the server
        # agree each time. Without a reason nothing is sent.
        self.find("#block").click()
        self.text_of("[role=alert]", "reason")
        self.assertFalse(self.server.request("GET", "/v1/members/cs-member-1").json["blocked"])
        for state, blocked in (("blocked", True), ("active", False)):
            self.type_into("#change-reason", f"customer called ({state})")
            self.find("#block").click()
            self.text_of("#member-status", state)
            r = self.server.request("GET", "/v1/members/cs-member-1")
            self.assertEqual(r.json["blocked"], blocked, state)
        self.text_of("#ledger tbody tr:first-child", "blocked by dev-admin: customer called (active)")
        # A phone another member has is refused, naming the field.
        self.server.signup("cs-member-3", phone="13700009999")
        self.type_into("#change-reason", "new phone")
        self.type_into("#change-value", "13700009999")
        self.find("#change-value").submit()
        self.text_of("[role=alert]", "phone")

        # The live feed: a change made elsewhere shows on the open page, with the new balance.
        r = self.server.request("POST", "/v1/members/cs-member-1/adjustments",
                                {"adjustment_id": "from-the-app", "points": 5, "reason": "elsewhere"})
        self.assertEqual(r.status, 201, r)
        self.text_of("#feed", "from-the-app", seconds=15)
        self.text_of("#balance-available", "160")

        # Erasure, with a reason and a confirmation: the member stays, its personal data goes.
        self.browser.execute_script("location.hash = '#/members/cs-member-3'")
        self.text_of("#member-title", "cs-member-3")
        self.type_into("#erase-reason", "asked by the customer")
        self.find("#erase").click()
        self.wait_for(seen.alert_is_present()).accept()
        self.text_of("#member-status", "erased")
        erased = self.server.request("GET", "/v1/members/cs-member-3").json
        self.assertIsNotNone(erased["erased_at"])
        self.look("member-erased")

        # Program: a draft activated from the console (after a confirmation), the history, the
        # two versions side by side, a broken draft refused at its key.
        source = self.server.request("GET", "/v1/program").json["source_toml"]
        changed = source.replace("points_per_unit = 1", "points_per_unit = 3")
        self.assertNotEqual(changed, source, "the shipped program earns 1 point per unit")
        self.find("nav a[href='#/program']").click()
        self.wait_for(lambda b: self.find("#draft").get_attribute("value") == source)
        self.set_text("draft", changed)
        self.find("#activate").click()
        self.wait_for(seen.alert_is_present()).accept()
        self.text_of("#draft-outcome", "is active")
        active = self.server.request("GET", "/v1/program").json
        self.assertEqual(active["source_toml"], changed, "the server runs the activated text")
        self.text_of("#versions", active["label"])
        self.text_of("#difference", "points_per_unit = 3")
        self.text_of("#difference caption", "1 lines removed, 1 added")
        self.text_of("#difference", "unchanged lines")  # the rest folded away
        self.assertLess(len(self.browser.find_elements(By.CSS_SELECTOR, "#difference tbody tr")), 12)
        draft = self.find("#draft")
        draft.clear()
        draft.send_keys(changed.replace("points_per_unit = 3", 'points_per_unit = "many"'))
        self.find("#draft ~ button").click()
        self.text_of("#draft-error-key", "earning.points_per_unit")

        # What would a basket earn under a draft (5 points a unit), and under the active program:
        # the page shows what the server's quote says.
        five = changed.replace("points_per_unit = 3", "points_per_unit = 5")
        self.set_text("draft", five)
        for field, value in (("#sim-member", "cs-member-2"), ("#sim-store", "s-1"),
                             ("#sim-sku", "latte"), ("#sim-category", "food"),
                             ("#sim-amount", "50")):
            self.type_into(field, value)
        basket = {"member_id": "cs-member-2", "store_id": "s-1", "currency": "CNY",
                  "occurred_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "lines": [line("latte", "food", 5000)]}
        under = {name: self.server.request("POST", "/v1/quotes", body).json["points_earned"]
                 for name, body in (("draft", dict(basket, program_toml=five)),
                                    ("active", basket))}
        self.assertGreater(under["draft"], under["active"], under)
        self.find("#simulate").click()
        self.text_of("#sim-result", f"{under['draft']:,} points")
        self.find("input[name=sim-under]:not(#sim-under-draft)").click()
        self.find("#simulate").click()
        self.text_of("#sim-result", f"{under['active']:,} points")
        self.look("program")

        # Recalculation under the program now active (3 points a unit; the purchase earned under
        # 1): a dry run shows the histogram as a chart and the largest change, then an apply after
        # the confirmation writes the adjustment the dry run promised.
        self.find("nav a[href='#/recalculation']").click()
        self.wait_for(lambda b: "points_per_unit = 3" in self.find("#recalc-program").get_attribute("value"))
        self.browser.execute_script("""
            const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000)
                .toISOString().slice(0, 19);
            const set = (id, value) => {
              const field = document.getElementById(id);
              Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(field, value);
              field.dispatchEvent(new Event("input", { bubbles: true }));
            };
            set("recalc-from", local(new Date(Date.now() - 86400000)));
            set("recalc-to", local(new Date(Date.now() + 60000)));""")
        self.find("#recalc-dry-run").click()
        self.text_of("#recalc-changed", "1")
        self.text_of("#recalc-largest", "cs-buy-1")
        self.find("canvas#recalc-histogram")
        counts = [int(cell.get_attribute("textContent")) for cell in self.browser.find_elements(
            By.CSS_SELECTOR, "#recalc-histogram-table tbody td:last-child")]
        self.assertEqual(sum(counts), 1, "one purchase changed, in one bar")
        total = int(self.find("#recalc-total").text.replace("+", "").replace(",", ""))
        self.assertGreater(total, 0)
        self.look("recalculation")
        before = self.server.member("cs-member-2").json["balance"]["available"]
        self.find("#recalc-apply").click()
        self.wait_for(seen.alert_is_present()).accept()
        self.text_of("#recalc-title ~ div h2", "Applied: succeeded", seconds=30)
        after = self.server.member("cs-member-2").json["balance"]["available"]
        self.assertEqual(after - before, total, "the apply wrote what the dry run showed")

        # Customer service asks why the purchase earned what it did: the rules and lines the
        # server keeps, and the recalculation's correction since.
        kept = self.server.request("GET", "/v1/purchases/cs-buy-1").json
        self.assertEqual(kept["points_adjusted"], total, kept)
        self.find("#recalc-largest a[href='#/members/cs-member-2']").click()
        self.find("#ledger button[aria-label='Why did cs-buy-1 earn this?']").click()
        self.text_of("#why-lines", "latte")
        self.text_of("#why-rules", kept["breakdown"][0]["rule"])
        self.text_of("#why", "by recalculations")
        self.look("why-earned")

        # Rewards, webhooks (with an endpoint's delivery log) and, alone, the cluster screen.
        # A member spends points on the free drink: the catalog counts the coupon.
        self.assertEqual(self.server.signup("cs-member-4").status, 201)
        self.assertEqual(self.server.request("POST", "/v1/members/cs-member-4/adjustments", {
            "adjustment_id": "drink-money", "points": 500, "reason": "test"}).status, 201)
        r = self.server.request("POST", "/v1/members/cs-member-4/rewards/free-drink:redeem",
                                {"redemption_id": "cs-drink"})
        self.assertEqual(r.status, 201, r)
        self.find("nav a[href='#/rewards']").click()
        self.find("#rewards")
        cells = lambda: [c.text for c in self.browser.find_elements(  # noqa: E731
            By.XPATH, "//table[@id='rewards']//tr[td[contains(., 'free-drink')]]/td")]
        self.wait_for(lambda b: cells()[4:8] == ["1", "0", "0", "1"])  # issued, used, expired, active
        self.look("rewards")
        self.find("nav a[href='#/webhooks']").click()
        self.text_of("#endpoints", "the CRM")
        self.find("#endpoints button").click()
        self.find("#deliveries")
        # Replay from an hour ago, after a confirmation.
        self.browser.execute_script("""
            const field = document.getElementById("replay-since");
            const d = new Date(Date.now() - 3600000);
            const local = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
            Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(field, local);
            field.dispatchEvent(new Event("input", { bubbles: true }));""")
        self.find("#replay-since ~ button").click()
        self.wait_for(seen.alert_is_present()).accept()
        self.text_of("form[aria-labelledby=replay-title] [role=status]", "started")
        self.look("webhooks")
        self.find("nav a[href='#/cluster']").click()
        self.text_of("main", "runs alone")
        self.look("cluster")

        # Back on the overview, the recalculation's jobs are listed, newest first.
        newest = self.server.request("GET", "/v1/jobs?limit=1").json["jobs"][0]["job_id"]
        self.find("nav a[href='#/overview']").click()
        self.text_of("#recent-jobs tbody tr:first-child", newest)

        # The key never left the headers: no URL the page asked for holds it.
        api_calls = [request["url"] for request in self.requests if "/v1/" in request["url"]]
        self.assertGreater(len(api_calls), 5, self.requests)
        for url in (request["url"] for request in self.requests):
            self.assertNotIn(ADMIN_KEY, url)
            self.assertNotIn(POS_KEY, url)
        self.assertTrue(any(request.get("headers", {}).get("Authorization") == f"Bearer {ADMIN_KEY}"
                            for request in self.requests), "the key travels as a header")

    def test_keyboard_alone(self):
        """Sign in, find a member, open their page and adjust their points with the keyboard
        alone: every control is reached with Tab and worked with Enter."""
        b = self.browser
        b.get(self.url)
        b.execute_script("sessionStorage.clear()")
        b.refresh()
        self.tab_to("#key")
        self.keys(ADMIN_KEY, Keys.ENTER)
        self.find("#stat-members")
        self.tab_to("nav a[href='#/members']")
        self.keys(Keys.ENTER)
        self.tab_to("#member-query")
        self.keys(PHONE, Keys.ENTER)
        self.tab_to("table a[href='#/members/cs-member-1']")
        self.keys(Keys.ENTER)
        self.find("#balance-available")
        before = self.server.member("cs-member-1").json["balance"]["available"]
        self.tab_to("#adjust-points")
        self.keys("7")
        self.tab_to("#adjust-reason")
        self.keys("typed at the keyboard", Keys.ENTER)
        self.text_of("#ledger tbody tr:first-child", "typed at the keyboard")
        self.assertEqual(self.server.member("cs-member-1").json["balance"]["available"], before + 7)
        self.collect_logs("keyboard")


if __name__ == "__main__":
    unittest.main()
