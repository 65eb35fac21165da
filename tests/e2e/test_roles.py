"""The security role table: every route of the route table (api/routes.cpp, read at test time)
against every kind of caller, over real sockets, each cell answered as api.md "Auth" and
docs/api.md "Endpoints" say: allowed (the route's success status), 401 or 403, and 403 naming
the field for a POS key outside its store scope. The expected table is written out below, so a
new route without a row, or a change in who may do what, fails this test.

Also: every refusal stores nothing; every error body is problem+json without stack traces,
C++ symbols, file paths or secrets (a malformed body and a wrong method on every route as
well); and after all of it no key, token, digest or the token secret is in the server log.
test_security.py covers token tampering, rate limits and slow clients; this file covers the
breadth of routes × callers."""
import asyncio
import hashlib
import json
import os
import re
import unittest
import urllib.parse
from datetime import datetime, timedelta, timezone

import websockets

from harness import ADMIN_KEY, APP_KEY, POS_KEY, SOURCE_DIR, Server
from test_security import SECRET, member_token

POS_S1_KEY = "loyalty-roles-pos-s1-key-5c1e"  # a POS key scoped to store s-1 (the member's)
POS_S2_KEY = "loyalty-roles-pos-s2-key-9d7a"  # a POS key scoped to store s-2 only
MEMBER = "m-role"
OTHER = "m-role-other"
CARD = "CARD-ROLE-0001"

# Callers, in the column order of EXPECTED.
PRINCIPALS = ["none", "bad_key", "admin", "pos_store", "pos_other_store", "app",
              "member_self", "member_other", "member_expired"]

OK, E401, E403, SCOPE = "ok", "401", "403", "scope"
# Callers also tried on the feed with the credential as ?token= (browsers, mini-programs).
QUERY_TOKEN_PRINCIPALS = {"bad_key", "member_self", "member_other", "member_expired"}

# Who may do what (api.md "Auth" and "Endpoints"; docs/api.md; docs/decisions.md: admin may call
# everything; pos keys stream events but do not follow members; quotes, purchases, refunds and
# batch items are store-scoped for pos keys). SCOPE = 403 forbidden naming the store field.
#                                           none  bad   admin pos   pos-2  app   self  other expired
EXPECTED = {
    "POST /v1/members":                     (E401, E401, OK, E403, E403, OK, E403, E403, E401),
    "GET /v1/members":                      (E401, E401, OK, OK, OK, E403, E403, E403, E401),
    "GET /v1/members:lookup":               (E401, E401, OK, OK, OK, OK, E403, E403, E401),
    "GET /v1/members/{member_id}":          (E401, E401, OK, OK, OK, OK, OK, E403, E401),
    "PATCH /v1/members/{member_id}":        (E401, E401, OK, E403, E403, OK, E403, E403, E401),
    "POST /v1/members/{member_id}:erase":   (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "GET /v1/members/{member_id}/ledger":   (E401, E401, OK, OK, OK, OK, OK, E403, E401),
    "GET /v1/members/{member_id}/referrals": (E401, E401, OK, E403, E403, OK, OK, E403, E401),
    "GET /v1/members/{member_id}/notifications": (E401, E401, OK, OK, OK, OK, OK, E403, E401),
    "POST /v1/members/{member_id}/redemptions": (E401, E401, OK, OK, OK, OK, E403, E403, E401),
    "POST /v1/members/{member_id}/adjustments": (E401, E401, OK, E403, E403, E403, E403, E403,
                                                 E401),
    "POST /v1/quotes":                      (E401, E401, OK, OK, SCOPE, OK, E403, E403, E401),
    "POST /v1/events/purchase":             (E401, E401, OK, OK, SCOPE, E403, E403, E403, E401),
    "POST /v1/events/refund":               (E401, E401, OK, OK, SCOPE, E403, E403, E403, E401),
    "POST /v1/events:batch":                (E401, E401, OK, OK, SCOPE, E403, E403, E403, E401),
    "POST /v1/holds":                       (E401, E401, OK, OK, OK, E403, E403, E403, E401),
    "GET /v1/holds/{hold_id}":              (E401, E401, OK, OK, OK, E403, E403, E403, E401),
    "GET /v1/purchases/{event_id}":         (E401, E401, OK, OK, SCOPE, E403, E403, E403, E401),
    "POST /v1/holds/{hold_id}:capture":     (E401, E401, OK, OK, OK, E403, E403, E403, E401),
    "POST /v1/holds/{hold_id}:void":        (E401, E401, OK, OK, OK, E403, E403, E403, E401),
    # The points mall: any caller sees the catalog; a member token sees its own catalog and
    # coupons, redeems for itself and cancels its own coupons; tills check and use codes.
    "GET /v1/rewards":                      (E401, E401, OK, OK, OK, OK, OK, OK, E401),
    "GET /v1/members/{member_id}/rewards":  (E401, E401, OK, OK, OK, OK, OK, E403, E401),
    "POST /v1/members/{member_id}/rewards/{reward_id}:redeem": (E401, E401, OK, OK, OK, OK, OK,
                                                                E403, E401),
    "GET /v1/members/{member_id}/coupons":  (E401, E401, OK, OK, OK, OK, OK, E403, E401),
    "GET /v1/coupons/{code}":               (E401, E401, OK, OK, OK, E403, E403, E403, E401),
    "POST /v1/coupons/{code}:use":          (E401, E401, OK, OK, SCOPE, E403, E403, E403, E401),
    "POST /v1/coupons/{code}:cancel":       (E401, E401, OK, E403, E403, OK, OK, E403, E401),
    "GET /v1/program":                      (E401, E401, OK, OK, OK, OK, E403, E403, E401),
    "PUT /v1/program":                      (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "POST /v1/program:validate":            (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "GET /v1/program/versions":             (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "GET /v1/program/versions/{version}":   (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "GET /v1/stats":                        (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "GET /v1/jobs":                         (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "POST /v1/jobs":                        (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "GET /v1/jobs/{job_id}":                (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "POST /v1/backups":                     (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "GET /v1/cluster":                      (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "POST /v1/webhooks":                    (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "GET /v1/webhooks":                     (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "GET /v1/webhooks/{webhook_id}":        (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "PATCH /v1/webhooks/{webhook_id}":      (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "DELETE /v1/webhooks/{webhook_id}":     (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "POST /v1/webhooks/{webhook_id}/secret:rotate":
                                            (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "POST /v1/webhooks/{webhook_id}:test":  (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "GET /v1/webhooks/{webhook_id}/deliveries":
                                            (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    "POST /v1/webhooks/{webhook_id}:replay":
                                            (E401, E401, OK, E403, E403, E403, E403, E403, E401),
    # The feed: the upgrade needs any valid credential; then subscribing to MEMBER and posting
    # a purchase on the socket are judged per message.
    "GET /v1/stream [subscribe]":           (E401, E401, OK, E403, E403, OK, OK, E403, E401),
    "GET /v1/stream [event]":               (E401, E401, OK, OK, SCOPE, E403, E403, E403, E401),
    # Open to anyone: probes, metrics and the API description (a bad credential is ignored).
    "GET /v1/openapi.json":                 (OK, OK, OK, OK, OK, OK, OK, OK, OK),
    "GET /healthz":                         (OK, OK, OK, OK, OK, OK, OK, OK, OK),
    "GET /readyz":                          (OK, OK, OK, OK, OK, OK, OK, OK, OK),
    "GET /metrics":                         (OK, OK, OK, OK, OK, OK, OK, OK, OK),
}

# Strings that must never be in an error body: internals (paths, sources, C++ symbols, storage
# engine names, exception texts) and secrets.
INTERNALS = ["/work", "/tmp", "/usr/", ".cpp", ".hpp", ".h:", "std::", "boost::", "loyalty::",
             "rocksdb", "traceback", "what()", "exception", "terminate", "segmentation",
             "sanitizer"]


def now_rfc3339(delta_s=0):
    moment = datetime.now(timezone.utc) + timedelta(seconds=delta_s)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def route_table():
    """Every (method, path) the server routes, from api/routes.cpp: the source of truth."""
    with open(os.path.join(SOURCE_DIR, "api", "routes.cpp")) as f:
        text = f.read()
    found = re.findall(r'RouteSpec\{verb::(\w+),\s*"([^"]+)"', text)
    assert len(found) >= 20, f"could not read the route table of api/routes.cpp: {found}"
    return {(method.upper().rstrip("_"), path) for method, path in found}  # delete_ is DELETE


def server_toml():
    text = 'listen = "127.0.0.1:0"\n'
    for name, role, key, stores in [("dev-admin", "admin", ADMIN_KEY, None),
                                    ("dev-pos", "pos", POS_KEY, '["*"]'),
                                    ("pos-s1", "pos", POS_S1_KEY, '["s-1"]'),
                                    ("pos-s2", "pos", POS_S2_KEY, '["s-2"]'),
                                    ("dev-app", "app", APP_KEY, None)]:
        text += f'[[api_keys]]\nname = "{name}"\nrole = "{role}"\nsha256 = "{sha256(key)}"\n'
        if stores:
            text += f"stores = {stores}\n"
    text += f'[member_tokens]\nhs256_secret = "{SECRET}"\n'
    # Off: the table sends many requests per credential in a moment, and 429 is not its subject.
    text += "[rate_limits]\nper_key_rps = 0\nper_member_token_rps = 0\n"
    return text


def purchase(event_id, store_id="s-1", amount=5000, member=MEMBER):
    return {"event_id": event_id, "member_id": member, "store_id": store_id,
            "occurred_at": now_rfc3339(-60), "currency": "CNY",
            "lines": [{"sku": "latte", "category": "beverage", "quantity": 1,
                       "amount_minor": amount}]}


class RoleTableTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(server_toml=server_toml()).start()
        cls.tokens = {
            "member_self": member_token(MEMBER),
            "member_other": member_token(OTHER),
            "member_expired": member_token(MEMBER, exp_in=-5),
        }
        cls.credentials = {
            "none": None,
            # The digest stored in server.toml is not the key: someone who read the config
            # file cannot use it.
            "bad_key": sha256(ADMIN_KEY),
            "admin": ADMIN_KEY,
            "pos_store": POS_S1_KEY,
            "pos_other_store": POS_S2_KEY,
            "app": APP_KEY,
            **cls.tokens,
        }
        cls.error_bodies = []
        s = cls.server
        for member, card in [(MEMBER, CARD), (OTHER, "CARD-ROLE-0002"),
                             ("m-erase", "CARD-ROLE-0003")]:
            r = s.signup(member, key=ADMIN_KEY, card_no=card)
            assert r.status == 201, r
        r = s.request("POST", f"/v1/members/{MEMBER}/adjustments",
                      {"adjustment_id": "role-seed", "points": 100000, "reason": "role table"})
        assert r.status == 201, r
        r = s.purchase(purchase("role-base", amount=100000), key=ADMIN_KEY)
        assert r.status == 200, r
        for principal in PRINCIPALS:
            for action in ("capture", "void"):
                r = s.request("POST", "/v1/holds", {"hold_id": f"h-{action}-{principal}",
                                                    "member_id": MEMBER, "points": 100})
                assert r.status == 201, r
        r = s.request("POST", "/v1/holds", {"hold_id": "h-read", "member_id": MEMBER,
                                            "points": 100})
        assert r.status == 201, r
        r = s.request("POST", "/v1/jobs", {"type": "expire", "as_of": "2020-01-01T00:00:00Z"})
        assert r.status == 202, r
        cls.job_id = r.json["job_id"]
        # Webhook endpoints: one every row may use, one the DELETE row removes. Their address
        # resolves nowhere, so a test message fails at once without leaving the machine.
        cls.webhooks = {}
        for name in ("kept", "doomed"):
            r = s.request("POST", "/v1/webhooks", {"url": f"https://{name}.invalid/hooks"})
            assert r.status == 201, r
            cls.webhooks[name] = r.json["id"]
            cls.webhook_secret = r.json["secret"]
        # A reward any member may redeem as often as the table needs, and a coupon of it per
        # principal for each of use and cancel.
        r = s.request("GET", "/v1/program")
        assert r.status == 200, r
        cls.program_toml = r.json["source_toml"] + (
            '\n[[rewards]]\nid = "role-reward"\nname = "Role table reward"\nkind = "coupon"\n'
            'cost_points = 1\n')
        r = s.request("PUT", "/v1/program", raw=cls.program_toml.encode(),
                      headers={"Content-Type": "application/toml"})
        assert r.status == 200, r
        cls.codes = {}
        for principal in PRINCIPALS:
            for action in ("use", "cancel"):
                r = s.request("POST", f"/v1/members/{MEMBER}/rewards/role-reward:redeem",
                              {"redemption_id": f"rr-{action}-{principal}"})
                assert r.status == 201, r
                cls.codes[(action, principal)] = r.json["coupon"]["code"]

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    # --- the requests of each row -----------------------------------------------------------
    def http_request(self, row, principal):
        """(method, target, body bytes, content type, success status) for one cell. Ids carry
        the principal's name, so every allowed cell really does something of its own."""
        c = principal
        j = lambda value: json.dumps(value).encode()  # noqa: E731
        job = urllib.parse.quote(self.job_id, safe=":")
        hook = self.webhooks["kept"]
        return {
            "POST /v1/members": ("POST", "/v1/members", j({"member_id": f"m-new-{c}"}), 201),
            "GET /v1/members": ("GET", f"/v1/members?query={MEMBER}&limit=5", None, 200),
            "GET /v1/members:lookup": ("GET", f"/v1/members:lookup?card_no={CARD}", None, 200),
            "GET /v1/members/{member_id}": ("GET", f"/v1/members/{MEMBER}", None, 200),
            "PATCH /v1/members/{member_id}": ("PATCH", f"/v1/members/{MEMBER}",
                                              j({"profile": {"set_by": c}}), 200),
            "POST /v1/members/{member_id}:erase": (
                "POST", "/v1/members/m-erase:erase",
                j({"erasure_id": f"x-{c}", "reason": "roles test"}), 200),
            "GET /v1/members/{member_id}/ledger": ("GET", f"/v1/members/{MEMBER}/ledger?limit=5",
                                                   None, 200),
            "GET /v1/members/{member_id}/referrals": ("GET", f"/v1/members/{MEMBER}/referrals",
                                                      None, 200),
            "GET /v1/members/{member_id}/notifications": (
                "GET", f"/v1/members/{MEMBER}/notifications?after_seq=0&limit=5", None, 200),
            "POST /v1/members/{member_id}/redemptions": (
                "POST", f"/v1/members/{MEMBER}/redemptions",
                j({"redemption_id": f"rd-{c}", "points": 100}), 201),
            "POST /v1/members/{member_id}/adjustments": (
                "POST", f"/v1/members/{MEMBER}/adjustments",
                j({"adjustment_id": f"adj-{c}", "points": 7, "reason": "role table"}), 201),
            "POST /v1/quotes": ("POST", "/v1/quotes", j(purchase(f"q-{c}")), 200),
            "POST /v1/events/purchase": ("POST", "/v1/events/purchase", j(purchase(f"p-{c}")),
                                         200),
            "POST /v1/events/refund": ("POST", "/v1/events/refund", j({
                "event_id": f"r-{c}", "original_event_id": "role-base",
                "occurred_at": now_rfc3339(-30), "amount_minor": 100}), 200),
            "POST /v1/events:batch": ("POST", "/v1/events:batch",
                                      j([{"type": "purchase", **purchase(f"b-{c}")}]), 200),
            "POST /v1/holds": ("POST", "/v1/holds", j({"hold_id": f"h-new-{c}",
                                                       "member_id": MEMBER, "points": 100}), 201),
            "GET /v1/holds/{hold_id}": ("GET", "/v1/holds/h-read", None, 200),
            "GET /v1/purchases/{event_id}": ("GET", "/v1/purchases/role-base", None, 200),
            "POST /v1/holds/{hold_id}:capture": ("POST", f"/v1/holds/h-capture-{c}:capture",
                                                 b"{}", 200),
            "POST /v1/holds/{hold_id}:void": ("POST", f"/v1/holds/h-void-{c}:void", b"{}", 200),
            "GET /v1/rewards": ("GET", "/v1/rewards", None, 200),
            "GET /v1/members/{member_id}/rewards": ("GET", f"/v1/members/{MEMBER}/rewards", None,
                                                    200),
            "POST /v1/members/{member_id}/rewards/{reward_id}:redeem": (
                "POST", f"/v1/members/{MEMBER}/rewards/role-reward:redeem",
                j({"redemption_id": f"rr-{c}"}), 201),
            "GET /v1/members/{member_id}/coupons": (
                "GET", f"/v1/members/{MEMBER}/coupons?state=active&limit=5", None, 200),
            "GET /v1/coupons/{code}": ("GET", f"/v1/coupons/{self.codes[('use', c)]}", None, 200),
            "POST /v1/coupons/{code}:use": ("POST", f"/v1/coupons/{self.codes[('use', c)]}:use",
                                            j({"use_id": f"u-{c}", "store_id": "s-1"}), 200),
            "POST /v1/coupons/{code}:cancel": (
                "POST", f"/v1/coupons/{self.codes[('cancel', c)]}:cancel", b"{}", 200),
            "GET /v1/program": ("GET", "/v1/program", None, 200),
            "PUT /v1/program": ("PUT", "/v1/program", self.program_toml.encode(), 200),
            "POST /v1/program:validate": ("POST", "/v1/program:validate",
                                          self.program_toml.encode(), 200),
            "GET /v1/program/versions": ("GET", "/v1/program/versions", None, 200),
            "GET /v1/program/versions/{version}": ("GET", "/v1/program/versions/1", None, 200),
            "GET /v1/stats": ("GET", "/v1/stats", None, 200),
            "GET /v1/jobs": ("GET", "/v1/jobs?limit=5", None, 200),
            "POST /v1/jobs": ("POST", "/v1/jobs",
                              j({"type": "expire", "as_of": "2020-01-01T00:00:00Z"}), 202),
            "GET /v1/jobs/{job_id}": ("GET", f"/v1/jobs/{job}", None, 200),
            "POST /v1/backups": ("POST", "/v1/backups", b"", 202),
            # This server runs alone: the admin gets past authorization to a 404.
            "GET /v1/cluster": ("GET", "/v1/cluster", None, 404),
            "POST /v1/webhooks": ("POST", "/v1/webhooks",
                                  j({"url": f"https://crm-{c}.invalid/hooks"}), 201),
            "GET /v1/webhooks": ("GET", "/v1/webhooks", None, 200),
            "GET /v1/webhooks/{webhook_id}": ("GET", f"/v1/webhooks/{hook}", None, 200),
            "PATCH /v1/webhooks/{webhook_id}": ("PATCH", f"/v1/webhooks/{hook}",
                                                j({"description": c}), 200),
            "DELETE /v1/webhooks/{webhook_id}": (
                "DELETE", f"/v1/webhooks/{self.webhooks['doomed']}", None, 204),
            "POST /v1/webhooks/{webhook_id}/secret:rotate": (
                "POST", f"/v1/webhooks/{hook}/secret:rotate", b"", 200),
            "POST /v1/webhooks/{webhook_id}:test": ("POST", f"/v1/webhooks/{hook}:test", b"", 200),
            "GET /v1/webhooks/{webhook_id}/deliveries": (
                "GET", f"/v1/webhooks/{hook}/deliveries?limit=5", None, 200),
            "POST /v1/webhooks/{webhook_id}:replay": (
                "POST", f"/v1/webhooks/{hook}:replay", j({"since": "2026-01-01T00:00:00Z"}), 200),
            "GET /v1/openapi.json": ("GET", "/v1/openapi.json", None, 200),
            "GET /healthz": ("GET", "/healthz", None, 200),
            "GET /readyz": ("GET", "/readyz", None, 200),
            "GET /metrics": ("GET", "/metrics", None, 200),
        }[row]

    def send(self, principal, method, target, body):
        content_type = "application/json"
        if target.startswith("/v1/program"):
            content_type = "application/toml"
        headers = {"Content-Type": content_type} if body is not None else {}
        return self.server.request(method, target, raw=body, key=self.credentials[principal],
                                   headers=headers)

    def judge_refusal(self, r, expected, scope_field):
        """'' when the answer is the expected refusal, else what is wrong with it."""
        if r.status >= 400:
            self.error_bodies.append(r.body)
        status = {E401: 401, E403: 403, SCOPE: 403}[expected]
        code = {401: "unauthorized", 403: "forbidden"}[status]
        if r.status != status:
            return f"expected {status}, got {r.status} {r.body[:160]}"
        if r.headers.get("Content-Type") != "application/problem+json" or r.json is None:
            return f"not problem+json: {r.headers.get('Content-Type')} {r.body[:160]}"
        if r.json.get("code") != code or r.json.get("status") != status:
            return f"code {r.json.get('code')} / status {r.json.get('status')}, expected {code}"
        if status == 401 and r.headers.get("WWW-Authenticate") != "Bearer":
            return "401 without WWW-Authenticate: Bearer"
        if expected == SCOPE:
            fields = [e.get("field") for e in r.json.get("errors", [])]
            if fields != [scope_field]:
                return f"store scope refusal should name {scope_field}, names {fields}"
        return ""

    def judge_http(self, row, principal, expected):
        method, target, body, success = self.http_request(row, principal)
        r = self.send(principal, method, target, body)
        scope_field = {"POST /v1/events/refund": "original_event_id",
                       "GET /v1/purchases/{event_id}": "event_id"}.get(row, "store_id")
        if row == "POST /v1/events:batch" and expected == SCOPE:
            # The batch is read; its event is refused on its own (docs/api.md "Batches").
            if r.status != 200:
                return f"expected 200 with a refused item, got {r.status} {r.body[:160]}"
            item = r.json["results"][0]
            if (item["status"], item.get("code")) != (403, "forbidden") or \
                    [e.get("field") for e in item.get("errors", [])] != ["store_id"]:
                return f"batch item should be 403 forbidden naming store_id: {item}"
            return ""
        if expected != OK:
            return self.judge_refusal(r, expected, scope_field)
        if r.status != success:
            return f"allowed: expected {success}, got {r.status} {r.body[:200]}"
        if row == "POST /v1/events:batch" and r.json["results"][0]["status"] != 200:
            return f"allowed batch item refused: {r.json['results'][0]}"
        return ""

    def judge_stream(self, row, principal, expected, query=False):
        """Upgrade with the credential (in the header, or as ?token= like a mini-program);
        then subscribe to MEMBER, or post a purchase."""
        async def scenario():
            headers = {}
            credential = self.credentials[principal]
            uri = f"ws://127.0.0.1:{self.server.port}/v1/stream"
            if query:
                uri += "?token=" + urllib.parse.quote(credential, safe="")
            elif credential is not None:
                headers["Authorization"] = f"Bearer {credential}"
            try:
                ws = await websockets.connect(uri, extra_headers=headers, open_timeout=15)
            except websockets.exceptions.InvalidStatusCode as refused:
                return ("upgrade", refused.status_code, None)
            try:
                if row.endswith("[subscribe]"):
                    await ws.send(json.dumps({"op": "subscribe", "member_id": MEMBER}))
                else:
                    await ws.send(json.dumps({"op": "event", "event": {
                        "type": "purchase",
                        **purchase(f"ws-{principal}" + ("-q" if query else ""))}}))
                return ("message", None, json.loads(await asyncio.wait_for(ws.recv(), 15)))
            finally:
                await ws.close()

        stage, status, message = asyncio.run(asyncio.wait_for(scenario(), 60))
        if expected == E401:
            return "" if (stage, status) == ("upgrade", 401) else \
                f"expected the upgrade refused with 401, got {stage} {status} {message}"
        if stage == "upgrade":
            return f"upgrade refused with {status}"
        if row.endswith("[subscribe]"):
            if expected == OK:
                return "" if message.get("op") == "subscribed" else f"not subscribed: {message}"
            got = (message.get("op"), message.get("status"), message.get("code"))
            return "" if got == ("error", 403, "forbidden") else f"expected 403: {message}"
        got = (message.get("op"), message.get("status"))
        if expected == OK:
            return "" if got == ("result", 200) else f"event not applied: {message}"
        fields = [e.get("field") for e in message.get("errors", [])]
        if got != ("result", 403) or message.get("code") != "forbidden" or \
                (expected == SCOPE and fields != ["store_id"]):
            return f"expected 403 ({expected}): {message}"
        return ""

    # --- the tests ----------------------------------------------------------------------------
    def test_every_route_has_a_row(self):
        routes = route_table()
        rows = {(key.split()[0], key.split()[1]) for key in EXPECTED}
        self.assertEqual(sorted(routes - rows), [], "routes without a row in EXPECTED")
        self.assertEqual(sorted(rows - routes), [], "rows for routes the server does not have")
        # The served API description lists the same routes.
        r = self.server.request("GET", "/v1/openapi.json", key=None)
        self.assertEqual(r.status, 200, r)
        described = {(method.upper(), path) for path, item in r.json["paths"].items()
                     for method in item if method in ("get", "post", "put", "delete", "patch")}
        self.assertEqual(sorted(routes ^ described), [], "routes.cpp and openapi.json differ")
        for key, cells in EXPECTED.items():
            self.assertEqual(len(cells), len(PRINCIPALS), key)

    def test_role_table(self):
        wrong = []
        cells = 0
        for row, cells_expected in EXPECTED.items():
            for principal, expected in zip(PRINCIPALS, cells_expected):
                if row.startswith("GET /v1/stream"):
                    problem = self.judge_stream(row, principal, expected)
                    if not problem and principal in QUERY_TOKEN_PRINCIPALS:
                        cells += 1
                        problem = self.judge_stream(row, principal, expected, query=True)
                else:
                    problem = self.judge_http(row, principal, expected)
                cells += 1
                if problem:
                    wrong.append(f"{row} as {principal}: {problem}")
        self.assertEqual(wrong, [], f"{len(wrong)} of {cells} cells differ from the table")
        self.check_refusals_stored_nothing()
        self.check_error_bodies(self.error_bodies)

    def check_refusals_stored_nothing(self):
        """The ids of refused cells are nowhere; those of allowed cells are there once."""
        s = self.server
        entries, cursor = [], None
        while True:
            page = s.request("GET", f"/v1/members/{MEMBER}/ledger?limit=500" +
                             (f"&cursor={cursor}" if cursor else ""))
            self.assertEqual(page.status, 200, page)
            entries += page.json["entries"]
            cursor = page.json["next_cursor"]
            if cursor is None:
                break
        references = [e["reference"] for e in entries]
        rows = [("POST /v1/members/{member_id}/redemptions", "rd-{}"),
                ("POST /v1/members/{member_id}/adjustments", "adj-{}"),
                ("POST /v1/events/purchase", "p-{}"), ("POST /v1/events/refund", "r-{}"),
                ("POST /v1/events:batch", "b-{}"), ("POST /v1/holds", "h-new-{}"),
                ("GET /v1/stream [event]", "ws-{}")]
        for row, pattern in rows:
            for principal, expected in zip(PRINCIPALS, EXPECTED[row]):
                reference = pattern.format(principal)
                if expected == OK:
                    self.assertIn(reference, references, f"{row} as {principal}")
                else:
                    self.assertNotIn(reference, references, f"{row} as {principal}")
                self.assertNotIn(reference + "-q", references, f"{row} as {principal}")
        for principal, expected in zip(PRINCIPALS, EXPECTED["POST /v1/members"]):
            status = s.member(f"m-new-{principal}", key=ADMIN_KEY).status
            self.assertEqual(status, 200 if expected == OK else 404, principal)
        for principal, expected in zip(PRINCIPALS, EXPECTED["POST /v1/holds/{hold_id}:capture"]):
            for action, state in (("capture", "captured"), ("void", "voided")):
                hold = s.request("GET", f"/v1/holds/h-{action}-{principal}").json
                self.assertEqual(hold["state"], state if expected == OK else "active",
                                 f"{action} as {principal}")
        # Quotes change nothing whoever asks; the balance is what the ledger says.
        view = s.member(MEMBER, key=ADMIN_KEY).json
        balance = view["balance"]
        self.assertEqual(balance["available"] + balance["pending"] + balance["held"],
                         sum(e["points"] for e in entries))

    def check_error_bodies(self, bodies):
        secrets = [ADMIN_KEY, POS_KEY, APP_KEY, POS_S1_KEY, POS_S2_KEY, SECRET,
                   *self.tokens.values(), sha256(ADMIN_KEY)]
        self.assertGreater(len(bodies), 50)
        for body in bodies:
            lowered = body.lower()
            for needle in INTERNALS:
                self.assertNotIn(needle, lowered, body)
            for secret in secrets:
                self.assertNotIn(secret, body)
            problem = json.loads(body)
            for field in ("type", "title", "status", "code", "detail"):
                self.assertIn(field, problem, body)

    def test_error_bodies_of_every_route(self):
        """As the admin (so authorization passes): a malformed body and a wrong method on every
        route, and unknown ids in every path: each answer is a 4xx problem+json with nothing
        internal in it."""
        bodies = []
        for row in EXPECTED:
            if row.startswith("GET /v1/stream"):
                continue
            method, target, body, _success = self.http_request(row, "admin")
            if method not in ("GET", "DELETE"):
                for bad in (b'{"member_id": [1, 2', b"\xff\xfe not utf-8", b"[]" * 40,
                            b'{"points": 1e999, "event_id": "\\u0000"}'):
                    r = self.send("admin", method, target, bad)
                    self.assertTrue(400 <= r.status < 500, f"{row}: {r}")
                    self.assertEqual(r.headers.get("Content-Type"), "application/problem+json",
                                     f"{row}: {r}")
                    bodies.append(r.body)
            # A method the route does not have (an endpoint's path, which a webhook action's
            # also matches, does have DELETE).
            wrong = "PUT" if row.split()[1].startswith("/v1/webhooks/") else "DELETE"
            r = self.server.request(wrong, target.split("?")[0], key=ADMIN_KEY)
            self.assertEqual(r.status, 405, f"{row}: {r}")
            self.assertTrue(r.headers.get("Allow"), f"{row}: {r}")
            bodies.append(r.body)
        for target in ["/v1/members/nobody", "/v1/members/nobody/ledger?limit=5",
                       "/v1/members/nobody/referrals", "/v1/members/nobody/notifications",
                       "/v1/holds/nothing",
                       "/v1/jobs/expire:1999-01-01T00:00:00Z", "/v1/members/%00",
                       "/v1/members/" + "x" * 200, "/v1/members/role%2F..%2F..%2Fetc",
                       "/v1/nowhere", "/v1/members:lookup?phone=%2B1&card_no=x",
                       "/v1/members/m-role/ledger?limit=100000&cursor=%ff%fe"]:
            r = self.server.request("GET", target, key=ADMIN_KEY)
            self.assertTrue(400 <= r.status < 500, f"{target}: {r}")
            bodies.append(r.body)
        self.check_error_bodies(bodies)

    def test_zz_no_credentials_in_the_log(self):
        # Runs last (unittest sorts by name), after every credential was used on every route.
        self.assertEqual(self.server.stop(), 0)
        log = self.server.read_log()
        self.assertIn("request", log)
        for secret in [ADMIN_KEY, POS_KEY, APP_KEY, POS_S1_KEY, POS_S2_KEY, SECRET,
                       sha256(ADMIN_KEY), sha256(POS_S1_KEY), sha256(POS_S2_KEY), CARD,
                       self.webhook_secret]:
            self.assertNotIn(secret, log)
        for token in self.tokens.values():
            for part in token.split("."):
                self.assertNotIn(part, log)
        # Every line is one JSON object; the callers appear by their key names only.
        principals = {json.loads(text).get("principal") for text in log.splitlines()}
        self.assertTrue({"dev-admin", "pos-s1", "pos-s2", "dev-app", "member-token"} <= principals,
                        principals)


if __name__ == "__main__":
    unittest.main()
