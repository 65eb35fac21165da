"""Administration of members (api.md "Administration of members"), as customer service uses it:
a search by member id prefix or an exact phone or card, filtered by tier and join date, paged in
member id order without gaps or repeats; a change of phone, card and profile that keeps
identifiers unique and frees the old ones, with an audit entry naming the key; a block that stops
earning and redeeming but not refunds; bad input refused naming the field; the right to erasure,
after which no file of the data folder holds the member's phone, card or profile while its books,
verify and replay still pass."""
import json
import os
import unittest
import urllib.parse

from harness import ADMIN_KEY, APP_KEY, POS_KEY, Server, ctl, line, purchase_body


class MemberSearchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        s = cls.server
        cls.joined = {}
        for i in range(23):
            member = f"cs-{i:03d}"
            joined = f"2026-{1 + i % 12:02d}-01T08:00:00Z"
            fields = {"joined_at": joined}
            if i == 7:
                fields.update(phone="13912340007", card_no="VIP-0007")
            assert s.signup(member, **fields).status == 201
            cls.joined[member] = joined
        # A member whose id shares nothing with the others, found by its phone or card only.
        assert s.signup("zz-phone", phone="cs-0", card_no="CARD-ZZ").status == 201
        # 600.00 CNY of spend makes cs-003 and cs-011 gold.
        for member in ("cs-003", "cs-011"):
            bought = s.purchase(purchase_body(f"gold-{member}", member,
                                              [line("a", "food", 60000)]))
            assert bought.status == 200, bought

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def search(self, key=POS_KEY, **params):
        return self.server.request("GET", "/v1/members?" + urllib.parse.urlencode(params), key=key)

    def all_pages(self, limit, **params):
        """Every page of a search, following next_cursor; the member ids in the order seen."""
        seen, cursor = [], None
        for _ in range(100):
            query = dict(params, limit=limit, **({"cursor": cursor} if cursor else {}))
            page = self.search(**query)
            self.assertEqual(page.status, 200, page)
            self.assertLessEqual(len(page.json["members"]), limit)
            seen += [m["member_id"] for m in page.json["members"]]
            cursor = page.json["next_cursor"]
            if cursor is None:
                return seen
        self.fail("the pages never ended")

    def test_a_prefix_pages_in_id_order_without_gaps_or_repeats(self):
        expected = sorted(m for m in self.joined if m.startswith("cs-01"))
        for limit in (1, 3, 10, 500):
            self.assertEqual(self.all_pages(limit, query="cs-01"), expected, limit)
        everyone = self.all_pages(4)
        self.assertEqual(everyone, sorted(list(self.joined) + ["zz-phone"]))
        page = self.search(query="cs-007")
        view = page.json["members"][0]
        self.assertEqual(view, self.server.request("GET", "/v1/members/cs-007").json,
                         "the member view, as GET /v1/members/{id} answers it")

    def test_an_exact_phone_or_card_finds_its_member(self):
        for query in ("13912340007", "VIP-0007"):
            found = self.search(query=query).json
            self.assertEqual([m["member_id"] for m in found["members"]], ["cs-007"], query)
        # "cs-0" is a prefix of many ids and zz-phone's phone: both kinds of match, in id order.
        ids = self.all_pages(5, query="cs-0")
        self.assertEqual(ids, sorted([m for m in self.joined if m.startswith("cs-0")]
                                     + ["zz-phone"]))
        self.assertEqual(self.search(query="CARD-ZZ").json["members"][0]["member_id"], "zz-phone")
        self.assertEqual(self.search(query="nobody-here").json,
                         {"members": [], "next_cursor": None})

    def test_tier_and_join_date_filter(self):
        self.assertEqual(self.all_pages(1, tier="gold"), ["cs-003", "cs-011"])
        spring = self.all_pages(50, joined_from="2026-03-01T00:00:00Z",
                                joined_to="2026-05-01T00:00:00Z")
        self.assertEqual(spring, sorted(m for m, at in self.joined.items()
                                        if "2026-03-01" <= at < "2026-05-01"))
        self.assertEqual(self.all_pages(50, query="cs-01", tier="gold"), ["cs-011"])

    def test_bad_parameters_name_themselves(self):
        for params, field in (({"limit": 0}, "limit"), ({"limit": 501}, "limit"),
                              ({"tier": "diamond"}, "tier"), ({"joined_from": "yesterday"},
                                                              "joined_from"),
                              ({"joined_from": "2026-05-01T00:00:00Z",
                                "joined_to": "2026-03-01T00:00:00Z"}, "joined_to"),
                              ({"partition": 1}, "partition"), ({"query": "a b"}, "query")):
            answer = self.search(**params)
            self.assertEqual(answer.status, 400, (params, answer))
            self.assertEqual(answer.json["errors"][0]["field"], field, answer.json)
        self.assertEqual(self.search(key=APP_KEY).status, 403, "pos and admin keys only")


class MemberChangeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def patch(self, member_id, body, key=ADMIN_KEY):
        return self.server.request("PATCH", f"/v1/members/{member_id}", body, key=key)

    def lookup(self, **params):
        return self.server.request("GET", "/v1/members:lookup?" + urllib.parse.urlencode(params),
                                   key=POS_KEY)

    def test_a_phone_changes_uniquely_and_the_old_one_is_free(self):
        s = self.server
        self.assertEqual(s.signup("ch-a", phone="13700000001", card_no="C-A").status, 201)
        self.assertEqual(s.signup("ch-b", phone="13700000002").status, 201)
        taken = self.patch("ch-a", {"phone": "13700000002"})
        self.assertEqual(taken.status, 409, taken)
        self.assertEqual((taken.json["code"], taken.json["errors"][0]["field"]),
                         ("identifier_taken", "phone"))
        changed = self.patch("ch-a", {"phone": "13700000009", "profile": {"nickname": "A"}},
                             key=APP_KEY)
        self.assertEqual(changed.status, 200, changed)
        self.assertEqual(changed.json["member_id"], "ch-a")
        self.assertEqual(self.lookup(phone="13700000009").json["member_id"], "ch-a")
        self.assertEqual(self.lookup(phone="13700000001").status, 404, "the old phone is free")
        self.assertEqual(s.signup("ch-c", phone="13700000001").status, 201,
                         "and another member may take it")
        # null removes the card; a repeat changes nothing, and is recorded (the trail records
        # requests: docs/decisions.md "Erasure").
        self.assertEqual(self.patch("ch-a", {"card_no": None}).status, 200)
        self.assertEqual(self.lookup(card_no="C-A").status, 404)
        self.assertEqual(self.patch("ch-a", {"card_no": None}).status, 200)
        # The audit trail: one entry per change, naming the fields given and the key.
        entries = s.request("GET", "/v1/members/ch-a/ledger").json["entries"]
        audits = [e for e in entries if e["type"] == "member_update"]
        self.assertEqual([a["rule"] for a in audits],
                         ["card_no by dev-admin", "card_no by dev-admin",
                          "phone,profile by dev-app"])
        self.assertTrue(all(a["points"] == 0 for a in audits))
        feed = s.request("GET", "/v1/members/ch-a/notifications").json["notifications"]
        self.assertEqual([n["type"] for n in feed].count("member.updated"), 3)

    def test_a_blocked_member_earns_and_redeems_nothing_until_unblocked(self):
        s = self.server
        self.assertEqual(s.signup("bl-1").status, 201)
        first = s.purchase(purchase_body("bl-e1", "bl-1", [line("a", "food", 50000)]))
        self.assertEqual(first.status, 200, first)
        blocked = self.patch("bl-1", {"blocked": True})
        self.assertEqual((blocked.status, blocked.json["blocked"]), (200, True))
        for method, path, body in (
                ("POST", "/v1/events/purchase",
                 purchase_body("bl-e2", "bl-1", [line("a", "food", 6400)])),
                ("POST", "/v1/members/bl-1/redemptions", {"redemption_id": "bl-r1", "points": 100}),
                ("POST", "/v1/holds", {"hold_id": "bl-h1", "member_id": "bl-1", "points": 100})):
            refused = s.request(method, path, body, key=POS_KEY)
            self.assertEqual(refused.status, 403, (path, refused))
            self.assertEqual(refused.json["code"], "member_blocked")
        balance = s.member("bl-1").json["balance"]["available"]
        # A refund still runs: the till gives the money back, and the points go with it.
        refund = s.request("POST", "/v1/events/refund",
                           {"event_id": "bl-f1", "original_event_id": "bl-e1",
                            "amount_minor": 50000, "occurred_at": "2026-11-20T11:00:00Z"},
                           key=POS_KEY)
        self.assertEqual(refund.status, 200, refund)
        self.assertLess(s.member("bl-1").json["balance"]["available"], balance)
        self.assertEqual(self.patch("bl-1", {"blocked": False}).status, 200)
        again = s.purchase(purchase_body("bl-e2", "bl-1", [line("a", "food", 6400)]))
        self.assertEqual(again.status, 200, "unblocked: the same sale goes through")

    def test_bad_changes_name_the_field_and_change_nothing(self):
        s = self.server
        self.assertEqual(s.signup("bad-1", phone="13600000001").status, 201)
        for body, field in (({}, "phone"), ({"phone": 3}, "phone"), ({"blocked": "yes"}, "blocked"),
                            ({"profile": [1]}, "profile"), ({"nickname": "x"}, "nickname"),
                            ({"card_no": "has space"}, "card_no")):
            answer = self.patch("bad-1", body)
            self.assertEqual(answer.status, 400, (body, answer))
            self.assertEqual(answer.json["errors"][0]["field"], field, answer.json)
        self.assertEqual(self.patch("nobody", {"blocked": True}).status, 404)
        self.assertEqual(self.patch("bad-1", {"blocked": True}, key=POS_KEY).status, 403)
        self.assertEqual(self.lookup(phone="13600000001").json["member_id"], "bad-1")
        self.assertFalse(s.member("bad-1").json["blocked"])


def files_holding(folder, needle):
    """The files under `folder` whose raw bytes hold `needle` (SST, WAL, MANIFEST, LOG, …)."""
    found = []
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                with open(os.path.join(root, name), "rb") as f:
                    if needle.encode() in f.read():
                        found.append(name)
            except FileNotFoundError:
                pass  # deleted by RocksDB since the listing: it holds nothing now
    return sorted(found)


class MemberErasureTest(unittest.TestCase):
    # The erased member's strings: its first phone, the one a change gave it, its card, and a
    # name inside its profile; and another member's, which must stay.
    GONE = ["13987650001", "13987650002", "CARD-ERASE-4242", "Wang Erased-Name"]
    KEPT = ["13987659999", "CARD-KEEP-5151", "Zhao Kept-Name"]

    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        s = cls.server
        assert s.signup("gone", phone=cls.GONE[0], card_no=cls.GONE[2],
                        profile={"name": cls.GONE[3]}).status == 201
        assert s.signup("kept", phone=cls.KEPT[0], card_no=cls.KEPT[1],
                        profile={"name": cls.KEPT[2]}).status == 201
        changed = s.request("PATCH", "/v1/members/gone", {"phone": cls.GONE[1]})
        assert changed.status == 200, changed
        for member in ("gone", "kept"):
            bought = s.purchase(purchase_body(f"buy-{member}", member,
                                              [line("a", "food", 12000)]))
            assert bought.status == 200, bought
        cls.before = s.member("gone").json

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def erase(self, member_id, body, key=ADMIN_KEY):
        return self.server.request("POST", f"/v1/members/{member_id}:erase", body, key=key)

    def test_1_nothing_in_the_folder_holds_the_erased_data_and_the_books_stay(self):
        s = self.server
        for text in self.GONE:
            self.assertNotEqual(files_holding(s.data_dir, text), [], f"{text}: before, it is there")
        r = self.erase("gone", {"erasure_id": "dsr-1", "reason": "ticket 88"})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["purged"], r)
        self.assertEqual(r.json["events_blanked"], 2, "the sign-up and the change")
        member = r.json["member"]
        self.assertTrue(member["blocked"])
        self.assertIn("erased_at", member)
        self.assertEqual(member["balance"], self.before["balance"])
        self.assertEqual(member["lifetime_points"], self.before["lifetime_points"])
        for text in self.GONE:
            self.assertEqual(files_holding(s.data_dir, text), [], text)
        for text in self.KEPT:
            self.assertNotEqual(files_holding(s.data_dir, text), [], f"{text} stays")
        for field, value in [("phone", self.GONE[0]), ("phone", self.GONE[1]),
                             ("card_no", self.GONE[2])]:
            found = s.request("GET", f"/v1/members:lookup?{field}={value}", key=POS_KEY)
            self.assertEqual(found.status, 404, (value, found))
            searched = s.request("GET", f"/v1/members?query={value}", key=POS_KEY)
            self.assertEqual(searched.json["members"], [], value)
        ledger = s.request("GET", "/v1/members/gone/ledger", key=APP_KEY).json
        audit = ledger["entries"][0]
        self.assertEqual((audit["type"], audit["points"]), ("member_erase", 0))
        self.assertEqual(audit["rule"], "erased by dev-admin: ticket 88")

        # Erasing twice is a replay; the same id for something else is a conflict.
        again = self.erase("gone", {"erasure_id": "dsr-1", "reason": "ticket 88"})
        self.assertEqual(again.status, 200, again)
        self.assertTrue(again.json["replayed"])
        self.assertEqual(again.json["events_blanked"], 0)
        other = self.erase("gone", {"erasure_id": "dsr-1", "reason": "another"})
        self.assertEqual(other.status, 409, other)
        self.assertEqual(other.json["code"], "idempotency_conflict")
        # Erased is final: no new phone, no unblock, no earning.
        for body in ({"phone": "13987650003"}, {"blocked": False}):
            refused = s.request("PATCH", "/v1/members/gone", body)
            self.assertEqual(refused.status, 403, refused)
            self.assertEqual(refused.json["code"], "member_blocked")
        bought = s.purchase(purchase_body("buy-after", "gone", [line("a", "food", 100)]))
        self.assertEqual(bought.status, 403, bought)

        # Stopped: the folder still holds none of it; verify and replay pass, and the exported
        # log has the erasure and a blank sign-up.
        self.assertEqual(s.stop(), 0)
        for text in self.GONE:
            self.assertEqual(files_holding(s.data_dir, text), [], f"{text} after the stop")
        verify = ctl("verify", "--data", s.data_dir)
        self.assertEqual(verify.returncode, 0, verify)
        replay = ctl("replay", "--data", s.data_dir, "--into", os.path.join(s.dir, "replayed"),
                     "--json")
        self.assertEqual(replay.returncode, 0, replay)
        self.assertTrue(json.loads(replay.stdout)["ok"], replay.stdout)
        exported = ctl("export", "events", "--data", s.data_dir)
        events = [json.loads(l) for l in exported.stdout.splitlines()]
        erasures = [e for e in events if e["type"] == "member_erase"]
        self.assertEqual([(e["member_id"], e["erasure_id"], e["erased_by"]) for e in erasures],
                         [("gone", "dsr-1", "dev-admin")])
        for text in self.GONE:
            self.assertNotIn(text, exported.stdout)
        s.start()
        # The erased phone is anyone's now.
        self.assertEqual(s.request("PATCH", "/v1/members/kept", {"phone": self.GONE[0]}).status,
                         200)

    def test_2_bad_erasures_name_the_field_and_change_nothing(self):
        s = self.server
        for body, field in [({"reason": "x"}, "erasure_id"), ({"erasure_id": "e"}, "reason"),
                            ({"erasure_id": "e", "reason": "x", "phone": "1"}, "phone"),
                            ({"erasure_id": "e b", "reason": "x"}, "erasure_id")]:
            r = self.erase("kept", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json["errors"][0]["field"], field, (body, r.json))
        self.assertEqual(self.erase("nobody", {"erasure_id": "e", "reason": "x"}).status, 404)
        self.assertEqual(self.erase("kept", {"erasure_id": "e", "reason": "x"},
                                    key=APP_KEY).status, 403)
        self.assertFalse(s.member("kept").json["blocked"])
        self.assertNotIn("erased_at", s.member("kept").json)


if __name__ == "__main__":
    unittest.main()
