"""The operator console's files (api.md "Operator console"; api/console.hpp): served by loyaltyd
under /console/ with no key, a strict Content-Security-Policy on every answer, the page
revalidated and its hashed files kept for a year, and nothing when [http] console is false."""
import re
import unittest

from harness import Server

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class ConsoleFilesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def get(self, path, headers=None):
        return self.server.request("GET", path, key=None, headers=headers)

    def page_files(self):
        page = self.get("/console/")
        scripts = re.findall(r'<script type="module" src="(/console/[^"]+\.js)"></script>', page.body)
        styles = re.findall(r'<link rel="stylesheet" href="(/console/[^"]+\.css)">', page.body)
        self.assertEqual((len(scripts), len(styles)), (1, 1), page.body)
        return scripts[0], styles[0]

    def test_the_page_needs_no_key_and_allows_nothing_inline(self):
        page = self.get("/console/")
        self.assertEqual(page.status, 200, page)
        self.assertTrue(page.headers["Content-Type"].startswith("text/html"), page.headers)
        self.assertEqual(page.headers["Content-Security-Policy"], CSP)
        self.assertEqual(page.headers["X-Content-Type-Options"], "nosniff")
        self.assertEqual(page.headers["Referrer-Policy"], "no-referrer")
        self.assertEqual(page.headers["Cache-Control"], "no-cache")
        # Nothing the policy would have to allow: no inline script, style or handler.
        self.assertNotRegex(page.body, r"<script(?![^>]*\bsrc=)[^>]*>")
        self.assertNotRegex(page.body, r"<style|\sstyle=|\son[a-z]+=")
        moved = self.get("/console")
        self.assertEqual((moved.status, moved.headers.get("Location")), (308, "/console/"))

    def test_hashed_files_are_kept_for_a_year_and_revalidate_by_etag(self):
        script, style = self.page_files()
        for path, kind in ((script, "text/javascript"), (style, "text/css")):
            got = self.get(path)
            self.assertEqual(got.status, 200, path)
            self.assertTrue(got.headers["Content-Type"].startswith(kind), got.headers)
            self.assertEqual(got.headers["Cache-Control"], "public, max-age=31536000, immutable")
            self.assertEqual(got.headers["Content-Security-Policy"], CSP)
            same = self.get(path, headers={"If-None-Match": got.headers["ETag"]})
            self.assertEqual((same.status, same.body), (304, ""), path)
        page = self.get("/console/")
        self.assertEqual(self.get("/console/", {"If-None-Match": page.headers["ETag"]}).status, 304)
        # The key stays in the tab: the bundle keeps it in session storage, sends it as a
        # header, and never puts it in local storage, a cookie or a URL's query.
        bundle = self.get(script).body
        self.assertIn("sessionStorage", bundle)
        self.assertIn("Authorization", bundle)
        for never in ("localStorage", "document.cookie", "?key=", "&key=", "?token=", "access_token"):
            self.assertNotIn(never, bundle)

    def test_other_paths_and_methods_are_refused(self):
        missing = self.get("/console/main-NOSUCHFILE.js")
        self.assertEqual(missing.status, 404, missing)
        self.assertEqual(missing.json["code"], "not_found")
        self.assertEqual(missing.headers["Content-Security-Policy"], CSP)
        posted = self.server.request("POST", "/console/", key=None, raw=b"x")
        self.assertEqual((posted.status, posted.headers.get("Allow")), (405, "GET"), posted)
        # The API around it is unchanged: a key is still needed there.
        self.assertEqual(self.get("/v1/program").status, 401)

    def test_the_console_can_be_turned_off(self):
        with open(self.server.config) as f:
            config = f.read()
        off = Server(server_toml=config + "\n[http]\nconsole = false\n").start()
        try:
            refused = off.request("GET", "/console/", key=None)
            self.assertEqual(refused.status, 404, refused)
            self.assertIn("turned off", refused.json["detail"])
            self.assertEqual(off.request("GET", "/healthz", key=None).status, 200)
        finally:
            off.cleanup()


if __name__ == "__main__":
    unittest.main()
