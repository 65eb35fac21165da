"""Administration of members (api.md "Administration of members"), as customer service uses it:
a search by member id prefix or an exact phone or card, filtered by tier and join date, paged in
member id order without gaps or repeats; a change of phone, card and profile that keeps
identifiers unique and frees the old ones, with an audit entry naming the key; a block that stops
earning and redeeming but not refunds; bad input refused naming the field."""
import unittest
import urllib.parse

from harness import ADMIN_KEY, APP_KEY, POS_KEY, Server, line, purchase_body


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
        # null removes the card; a repeat changes nothing and records nothing.
        self.assertEqual(self.patch("ch-a", {"card_no": None}).status, 200)
        self.assertEqual(self.lookup(card_no="C-A").status, 404)
        self.assertEqual(self.patch("ch-a", {"card_no": None}).status, 200)
        # The audit trail: one entry per change that changed something, naming the key.
        entries = s.request("GET", "/v1/members/ch-a/ledger").json["entries"]
        audits = [e for e in entries if e["type"] == "member_update"]
        self.assertEqual([a["rule"] for a in audits],
                         ["card_no by dev-admin", "phone,profile by dev-app"])
        self.assertTrue(all(a["points"] == 0 for a in audits))
        feed = s.request("GET", "/v1/members/ch-a/notifications").json["notifications"]
        self.assertEqual([n["type"] for n in feed].count("member.updated"), 2)

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


if __name__ == "__main__":
    unittest.main()
