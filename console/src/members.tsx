// Customer service: find a member (id prefix, exact phone or card) and open their page: the
// balance, the ledger with every entry's reason and who made it, and an adjustment with a reason.
import { useEffect, useRef, useState } from "preact/hooks";

import { ApiError, LedgerEntry, Member, Notification, StoredPurchase, api } from "./api";
import { useFormat } from "./format";

export function MembersScreen() {
  const [query, setQuery] = useState("");
  const [tier, setTier] = useState("");
  const [tiers, setTiers] = useState<string[]>([]);
  const [found, setFound] = useState<Member[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.stats(1).then((stats) => setTiers(stats.tiers.map((t) => t.tier)), () => setTiers([]));
  }, []);
  // A page examines a bounded number of members: a filter that matches few may answer a short
  // page with more to come (api.md "Administration of members").
  const fetchPage = async (after: string | null) => {
    setError(null);
    try {
      const page = await api.search(query.trim(), tier, after);
      setFound([...(after ? found ?? [] : []), ...page.members]);
      setCursor(page.next_cursor);
    } catch (e) {
      setFound(null);
      setError((e as Error).message);
    }
  };
  const search = (event: Event) => {
    event.preventDefault();
    fetchPage(null);
  };
  return (
    <section aria-labelledby="members-title">
      <h1 id="members-title">Members</h1>
      <form class="inline" role="search" onSubmit={search}>
        <label for="member-query">Member id, phone or card</label>
        <input id="member-query" type="search" value={query} required={tier === ""}
          onInput={(e) => setQuery(e.currentTarget.value)} />
        <label for="member-tier">Tier</label>
        <select id="member-tier" value={tier} onChange={(e) => setTier(e.currentTarget.value)}>
          <option value="">Any tier</option>
          {tiers.map((t) => <option value={t}>{t}</option>)}
        </select>
        <button type="submit">Search</button>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
      {found && found.length === 0 && !cursor && <p role="status">No member matches.</p>}
      {found && found.length > 0 && (
        <table>
          <caption>{cursor ? `The first ${found.length} members found` : `${found.length} found`}</caption>
          <thead><tr><th scope="col">Member</th><th scope="col">Tier</th><th scope="col" class="number">Available</th><th scope="col">Status</th></tr></thead>
          <tbody>
            {found.map((m) => (
              <tr key={m.member_id}>
                <td><a href={`#/members/${encodeURIComponent(m.member_id)}`}>{m.member_id}</a></td>
                <td>{m.tier}</td>
                <td class="number">{m.balance.available}</td>
                <td>{m.erased_at ? "erased" : m.blocked ? "blocked" : "active"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {found && cursor && <button type="button" id="more-members" onClick={() => fetchPage(cursor)}>More members</button>}
    </section>
  );
}

export function MemberPage({ memberId }: { memberId: string }) {
  const format = useFormat();
  const [member, setMember] = useState<Member | null>(null);
  const [entries, setEntries] = useState<LedgerEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [asked, setAsked] = useState("");  // a purchase the operator asked about
  const load = async () => {
    try {
      const [view, page] = await Promise.all([api.member(memberId), api.ledger(memberId, null)]);
      setMember(view);
      setEntries(page.entries);
      setCursor(page.next_cursor);
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError && e.status === 404 ? "There is no such member." : (e as Error).message);
    }
  };
  useEffect(() => { load(); }, [memberId]);
  const more = async () => {
    const page = await api.ledger(memberId, cursor);
    setEntries([...entries, ...page.entries]);
    setCursor(page.next_cursor);
  };
  if (error) return <p role="alert" class="error">{error}</p>;
  if (!member) return <p role="status">Loading…</p>;
  return (
    <section aria-labelledby="member-title">
      <p><a href="#/members">← Members</a></p>
      <h1 id="member-title">{member.member_id}</h1>
      <dl class="figures">
        <div><dt>Available</dt><dd id="balance-available">{format.points(member.balance.available)}</dd></div>
        <div><dt>Pending</dt><dd>{format.points(member.balance.pending)}</dd></div>
        <div><dt>Held</dt><dd>{format.points(member.balance.held)}</dd></div>
        <div><dt>Tier</dt><dd>{member.tier}</dd></div>
        <div><dt>Joined</dt><dd>{format.time(member.joined_at)}</dd></div>
        <div><dt>Status</dt><dd id="member-status">{member.erased_at ? "erased" : member.blocked ? "blocked" : "active"}</dd></div>
      </dl>
      <Adjust memberId={member.member_id} done={load} />
      <WhyEarned key={asked} asked={asked} />
      {!member.erased_at && <Change member={member} done={load} />}
      <LiveFeed memberId={member.member_id} changed={load} />
      {!member.erased_at && <Erase memberId={member.member_id} done={load} />}
      <table id="ledger">
        <caption>Ledger, newest first (times in {format.zone})</caption>
        <thead>
          <tr><th scope="col">When</th><th scope="col">Type</th><th scope="col" class="number">Points</th><th scope="col" class="number">Balance after</th><th scope="col">Why</th><th scope="col">By whom</th><th scope="col">Request</th></tr>
        </thead>
        <tbody>
          {entries.map((entry) => (
            <tr key={entry.id}>
              <td>{format.time(entry.at)}</td>
              <td>{entry.type}</td>
              <td class="number">{format.signed(entry.points)}</td>
              <td class="number">{format.points(entry.balance_after)}</td>
              <td>{entry.rule}</td>
              <td>{entry.actor ?? "the member or a till"}</td>
              <td>
                {entry.reference}
                {(entry.type === "earn" || entry.type === "bonus") && (
                  <button type="button" class="quiet" aria-label={`Why did ${entry.reference} earn this?`}
                    onClick={() => setAsked(entry.reference)}>Why?</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {cursor && <button type="button" onClick={more}>More entries</button>}
    </section>
  );
}

function Adjust({ memberId, done }: { memberId: string; done: () => void }) {
  const [points, setPoints] = useState("");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      await api.adjust(memberId, Number(points), reason);
      setPoints("");
      setReason("");
      setError(null);
      done();
    } catch (e) {
      setError(e as ApiError);
    }
  };
  return (
    <form class="inline" onSubmit={submit} aria-labelledby="adjust-title">
      <h2 id="adjust-title">Adjust points</h2>
      <label for="adjust-points">Points (negative to take)</label>
      <input id="adjust-points" type="number" step="1" required value={points}
        onInput={(e) => setPoints(e.currentTarget.value)}
        aria-invalid={error?.field === "points" ? "true" : undefined} />
      <label for="adjust-reason">Reason</label>
      <input id="adjust-reason" type="text" required maxLength={500} value={reason}
        onInput={(e) => setReason(e.currentTarget.value)}
        aria-invalid={error?.field === "reason" ? "true" : undefined} />
      <button type="submit">Adjust</button>
      {error && <p role="alert" class="error">{error.field ? `${error.field}: ` : ""}{error.message}</p>}
    </form>
  );
}

// Customer service's changes: block or unblock (the member earns and redeems nothing while
// blocked), a new phone or card (refused when another member has it, naming the field).
function Change({ member, done }: { member: Member; done: () => void }) {
  const [field, setField] = useState<"phone" | "card_no">("phone");
  const [value, setValue] = useState("");
  const [reason, setReason] = useState("");
  const [outcome, setOutcome] = useState<{ ok: boolean; message: string } | null>(null);
  const reasonField = useRef<HTMLInputElement>(null);
  const apply = async (fields: Parameters<typeof api.change>[1], said: string) => {
    // Every change is audited with why it was made (the ledger's member_update entry).
    if (reason.trim() === "") {
      setOutcome({ ok: false, message: "reason: say why the member is changed" });
      reasonField.current?.focus();
      return;
    }
    try {
      await api.change(member.member_id, { ...fields, reason: reason.trim() });
      setReason("");
      setOutcome({ ok: true, message: said });
      done();
    } catch (e) {
      const error = e as ApiError;
      setOutcome({ ok: false, message: `${error.field ? `${error.field}: ` : ""}${error.message}` });
    }
  };
  const submit = (event: Event) => {
    event.preventDefault();
    apply({ [field]: value.trim() === "" ? null : value.trim() }, `${field === "phone" ? "Phone" : "Card"} changed.`);
  };
  return (
    <form class="inline" onSubmit={submit} aria-labelledby="change-title">
      <h2 id="change-title">Change the member</h2>
      <label for="change-reason">Reason</label>
      <input id="change-reason" ref={reasonField} type="text" maxLength={500} value={reason}
        onInput={(e) => setReason(e.currentTarget.value)}
        aria-invalid={outcome && !outcome.ok && reason.trim() === "" ? "true" : undefined} />
      <button type="button" id="block" onClick={() => apply({ blocked: !member.blocked }, member.blocked ? "Unblocked." : "Blocked.")}>
        {member.blocked ? "Unblock" : "Block"}
      </button>
      <label for="change-field">Identifier</label>
      <select id="change-field" value={field} onChange={(e) => setField(e.currentTarget.value as "phone" | "card_no")}>
        <option value="phone">Phone</option>
        <option value="card_no">Card number</option>
      </select>
      <label for="change-value">New value (empty removes it)</label>
      <input id="change-value" type="text" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
      <button type="submit">Change</button>
      {outcome && <p role={outcome.ok ? "status" : "alert"} class={outcome.ok ? "ok" : "error"}>{outcome.message}</p>}
    </form>
  );
}

// "Why did this purchase earn what it earned?" (or nothing): what each rule gave, what of each line
// earned, and what refunds and recalculations changed since (GET /v1/purchases/{event_id}).
function WhyEarned({ asked }: { asked: string }) {
  const format = useFormat();
  const [eventId, setEventId] = useState(asked);
  const [purchase, setPurchase] = useState<StoredPurchase | null>(null);
  const [error, setError] = useState<string | null>(null);
  const look = async (id: string) => {
    setPurchase(null);
    try {
      setPurchase(await api.purchase(id));
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError && e.status === 404 ? "No purchase has this id." : (e as Error).message);
    }
  };
  useEffect(() => { if (asked) look(asked); }, [asked]);
  const submit = (event: Event) => {
    event.preventDefault();
    look(eventId.trim());
  };
  return (
    <section aria-labelledby="why-title">
      <form class="inline" onSubmit={submit}>
        <h2 id="why-title">Why did a purchase earn what it earned?</h2>
        <label for="why-event">Purchase id (the till's event_id)</label>
        <input id="why-event" type="text" required value={eventId} onInput={(e) => setEventId(e.currentTarget.value)} />
        <button type="submit">Explain</button>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
      {purchase && (
        <div id="why" aria-live="polite">
          <p>
            {purchase.event_id} at {purchase.store_id}, {format.time(purchase.occurred_at)}: {format.money(purchase.order_total_minor)} of
            which {format.money(purchase.eligible_minor)} earned points; {format.points(purchase.points_earned)} points
            earned{purchase.points_redeemed > 0 && `, ${format.points(purchase.points_redeemed)} points paid`}.
          </p>
          <table id="why-rules">
            <caption>What each rule gave</caption>
            <thead><tr><th scope="col">Rule</th><th scope="col" class="number">Points</th></tr></thead>
            <tbody>{purchase.breakdown.map((b) => <tr><td>{b.rule}</td><td class="number">{format.points(b.points)}</td></tr>)}</tbody>
          </table>
          <table id="why-lines">
            <caption>What of each line earned</caption>
            <thead><tr><th scope="col">Item</th><th scope="col" class="number">Amount</th><th scope="col" class="number">Earned on</th><th scope="col" class="number">Refunded</th></tr></thead>
            <tbody>
              {purchase.lines.map((l) => (
                <tr><td>{l.sku}</td><td class="number">{format.money(l.amount_minor)}</td><td class="number">{format.money(l.eligible_minor)}</td><td class="number">{format.money(l.refunded_minor)}</td></tr>
              ))}
            </tbody>
          </table>
          {(purchase.points_reversed !== 0 || purchase.points_adjusted !== 0) && (
            <p>Since then: {format.points(purchase.points_reversed)} points taken back by refunds, {format.signed(purchase.points_adjusted)} by recalculations.</p>
          )}
        </div>
      )}
    </section>
  );
}

// The member's changes as they happen: the feed the app's WebSocket gets, read over REST every
// few seconds (a browser cannot put the key in a WebSocket's headers, and the console never puts
// it in a URL). A new notification also reloads the page's balance and ledger.
const feedEveryMs = 3000;

function LiveFeed({ memberId, changed }: { memberId: string; changed: () => void }) {
  const format = useFormat();
  const [items, setItems] = useState<Notification[]>([]);
  const latest = useRef<number | null>(null);
  const primed = useRef(false);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        if (latest.current === null) {
          // Start from the newest five: the page shows the rest in the ledger.
          const head = await api.feed(memberId, 0, 0);
          latest.current = Math.max(0, head.latest_seq - 5);
        }
        const page = await api.feed(memberId, latest.current, 50);
        if (!stopped && page.notifications.length > 0) {
          latest.current = page.notifications[page.notifications.length - 1].seq;
          setItems((shown) => [...page.notifications.slice().reverse(), ...shown].slice(0, 20));
          if (primed.current) changed();  // not for what was there when the page opened
        }
        primed.current = true;
      } catch {
        // A failed poll is tried again at the next tick; sign-out is handled by the client.
      }
      if (!stopped) timer = setTimeout(poll, feedEveryMs);
    };
    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [memberId]);
  return (
    <section aria-labelledby="feed-title">
      <h2 id="feed-title">Live feed</h2>
      <ol id="feed" aria-live="polite" class="feed">
        {items.map((n) => (
          <li key={n.seq}>{format.time(n.at)}: {n.type} {n.points !== 0 ? format.signed(n.points) : ""} ({n.reference})</li>
        ))}
      </ol>
    </section>
  );
}

// The right to erasure: the member's phone, card and profile are removed everywhere, the
// member is blocked for good; the books stay. Asks for a reason and a confirmation.
function Erase({ memberId, done }: { memberId: string; done: () => void }) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    if (!confirm(`Erase ${memberId}'s personal data for good? The ledger and balance stay; this cannot be undone.`)) return;
    try {
      await api.erase(memberId, reason.trim());
      setError(null);
      done();
    } catch (e) {
      const problem = e as ApiError;
      setError(`${problem.field ? `${problem.field}: ` : ""}${problem.message}`);
    }
  };
  return (
    <form class="inline" onSubmit={submit} aria-labelledby="erase-title">
      <h2 id="erase-title">Erase personal data</h2>
      <label for="erase-reason">Reason (no personal data)</label>
      <input id="erase-reason" type="text" required maxLength={500} value={reason}
        onInput={(e) => setReason(e.currentTarget.value)} />
      <button type="submit" id="erase">Erase…</button>
      {error && <p role="alert" class="error">{error}</p>}
    </form>
  );
}
