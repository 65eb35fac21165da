"""Administration of members (api.md "Administration of members"), as customer service uses it:
a search by member id prefix or an exact phone or card, filtered by tier and join date, paged in
member id order without gaps or repeats; bad parameters are refused naming them."""
import unittest
import urllib.parse

from harness import APP_KEY, POS_KEY, Server, line, purchase_body


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


if __name__ == "__main__":
    unittest.main()
