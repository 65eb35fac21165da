// Marketing: the program's history, two versions side by side, and a draft checked before it
// goes live (the refusal names the TOML key it is about).
import { useContext, useEffect, useState } from "preact/hooks";

import { ApiError, ProgramVersion, Quote, api } from "./api";
import { SettingsContext, useFormat } from "./format";

type DiffRow = { left: string | null; right: string | null };

// Lines of `a` and `b` aligned by their longest common subsequence: a row with one side empty
// is a line only that version has. Programs are a few hundred lines: the table is small.
export function diffLines(a: string[], b: string[]): DiffRow[] {
  const common: number[][] = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; --i) {
    for (let j = b.length - 1; j >= 0; --j) {
      common[i][j] = a[i] === b[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
    }
  }
  const rows: DiffRow[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) rows.push({ left: a[i++], right: b[j++] });
    else if (j < b.length && (i === a.length || common[i][j + 1] >= common[i + 1][j])) rows.push({ left: null, right: b[j++] });
    else rows.push({ left: a[i++], right: null });
  }
  return rows;
}

// The changed rows with `context` unchanged rows around each; a run of other unchanged rows
// becomes its length, so a one-line change in a long program reads as one short table.
function foldUnchanged(rows: DiffRow[], context: number): (DiffRow | number)[] {
  const near = rows.map(() => false);
  rows.forEach((row, i) => {
    if (row.left === row.right) return;
    for (let j = Math.max(0, i - context); j <= Math.min(rows.length - 1, i + context); ++j) near[j] = true;
  });
  const out: (DiffRow | number)[] = [];
  rows.forEach((row, i) => {
    if (near[i]) out.push(row);
    else if (typeof out[out.length - 1] === "number") (out[out.length - 1] as number)++;
    else out.push(1);
  });
  return out;
}

export function ProgramScreen() {
  const format = useFormat();
  const [versions, setVersions] = useState<ProgramVersion[]>([]);
  const [left, setLeft] = useState<ProgramVersion | null>(null);
  const [right, setRight] = useState<ProgramVersion | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    api.versions().then(async ({ versions }) => {
      setVersions(versions);
      const active = versions.find((v) => v.active) ?? versions[versions.length - 1];
      const before = versions[versions.indexOf(active) - 1] ?? active;
      setLeft(await api.version(before.version));
      setRight(await api.version(active.version));
    }, (e: Error) => setError(e.message));
  useEffect(() => { load(); }, []);
  const choose = async (side: "left" | "right", number: string) => {
    const version = await api.version(Number(number));
    (side === "left" ? setLeft : setRight)(version);
  };
  if (error) return <p role="alert" class="error">{error}</p>;
  return (
    <section aria-labelledby="program-title">
      <h1 id="program-title">Program</h1>
      <table id="versions">
        <caption>Versions (times in {format.zone})</caption>
        <thead><tr><th scope="col">Version</th><th scope="col">Last made active</th><th scope="col">Status</th></tr></thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.version}>
              <td>{v.label}</td>
              <td>{format.time(v.activated_at)}</td>
              <td>{v.active ? "active" : ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {left && right && (
        <>
          <h2>Two versions side by side</h2>
          <div class="inline">
            {(["left", "right"] as const).map((side) => (
              <>
                <label for={`diff-${side}`}>{side === "left" ? "Older" : "Newer"}</label>
                <select id={`diff-${side}`} value={(side === "left" ? left : right).version}
                  onChange={(e) => choose(side, e.currentTarget.value)}>
                  {versions.map((v) => <option value={v.version}>{v.label}</option>)}
                </select>
              </>
            ))}
          </div>
          <Difference left={left} right={right} />
        </>
      )}
      <Validate draft={right?.source_toml ?? ""} activated={load} />
    </section>
  );
}

function Difference({ left, right }: { left: ProgramVersion; right: ProgramVersion }) {
  const rows = diffLines((left.source_toml ?? "").split("\n"), (right.source_toml ?? "").split("\n"));
  const removed = rows.filter((r) => r.right === null).length;
  const added = rows.filter((r) => r.left === null).length;
  return (
    <table class="diff" id="difference">
      <caption>From {left.label} to {right.label}: {removed} lines removed, {added} added</caption>
      <thead><tr><th scope="col">{left.label}</th><th scope="col">{right.label}</th></tr></thead>
      <tbody>
        {foldUnchanged(rows, 3).map((row) =>
          typeof row === "number" ? (
            <tr class="folded"><td colSpan={2}>… {row} unchanged lines</td></tr>
          ) : (
            <tr class={row.left === row.right ? "" : "changed"}>
              <td class={row.left === null ? "absent" : row.right === null ? "removed" : ""}><code>{row.left ?? ""}</code></td>
              <td class={row.right === null ? "absent" : row.left === null ? "added" : ""}><code>{row.right ?? ""}</code></td>
            </tr>
          ),
        )}
      </tbody>
    </table>
  );
}

function Validate({ draft, activated }: { draft: string; activated: () => void }) {
  const [text, setText] = useState(draft);
  const [outcome, setOutcome] = useState<{ ok: boolean; message: string; key: string | null } | null>(null);
  useEffect(() => setText(draft), [draft]);
  // Activation runs the same checks again: a draft edited since its validation is refused at
  // its key the same way.
  const activate = async () => {
    if (!confirm("Activate this program now? Events from now on earn under it; earlier ones keep their rules.")) return;
    try {
      const version = await api.activate(text);
      setOutcome({ ok: true, message: `${version.label} is active.`, key: null });
      activated();
    } catch (e) {
      const error = e as ApiError;
      setOutcome({ ok: false, message: error.message, key: error.field });
    }
  };
  const check = async (event: Event) => {
    event.preventDefault();
    try {
      await api.validate(text);
      setOutcome({ ok: true, message: "This program is valid.", key: null });
    } catch (e) {
      const error = e as ApiError;
      setOutcome({ ok: false, message: error.message, key: error.field });
    }
  };
  return (
    <>
    <form onSubmit={check} aria-labelledby="validate-title">
      <h2 id="validate-title">Check a draft</h2>
      <label for="draft">program.toml</label>
      <textarea id="draft" rows={16} spellcheck={false} value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        aria-invalid={outcome && !outcome.ok ? "true" : undefined} aria-describedby="draft-outcome" />
      <button type="submit">Validate</button>
      <button type="button" id="activate" onClick={activate}>Activate…</button>
      <div id="draft-outcome" role="status">
        {outcome && (outcome.ok ? <p class="ok">{outcome.message}</p> : (
          <p class="error">{outcome.key && <>At <code id="draft-error-key">{outcome.key}</code>: </>}{outcome.message}</p>
        ))}
      </div>
    </form>
    <Simulator draft={text} />
    </>
  );
}

// "What would this basket earn?" under the active program or the draft above (POST /v1/quotes,
// with the draft's text for the latter): one line, a member, now. Nothing is stored.
function Simulator({ draft }: { draft: string }) {
  const format = useFormat();
  const { currency } = useContext(SettingsContext);
  const [memberId, setMemberId] = useState("");
  const [storeId, setStoreId] = useState("");
  const [sku, setSku] = useState("");
  const [category, setCategory] = useState("");
  const [amount, setAmount] = useState("");
  const [underDraft, setUnderDraft] = useState(true);
  const [quote, setQuote] = useState<Quote | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const simulate = async (event: Event) => {
    event.preventDefault();
    const digits = new Intl.NumberFormat(undefined, { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
    try {
      setQuote(await api.quote({
        member_id: memberId.trim(),
        store_id: storeId.trim(),
        occurred_at: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
        currency,
        lines: [{ sku: sku.trim(), category: category.trim(), quantity: 1, amount_minor: Math.round(Number(amount) * 10 ** digits) }],
        ...(underDraft ? { program_toml: draft } : {}),
      }));
      setError(null);
    } catch (e) {
      setQuote(null);
      setError(e as ApiError);
    }
  };
  const field = (id: string, label: string, value: string, set: (v: string) => void, type = "text") => (
    <>
      <label for={id}>{label}</label>
      <input id={id} type={type} required value={value} step={type === "number" ? "any" : undefined}
        onInput={(e) => set(e.currentTarget.value)} aria-invalid={error?.field?.startsWith(id.replace("sim-", "")) ? "true" : undefined} />
    </>
  );
  return (
    <form onSubmit={simulate} aria-labelledby="sim-title">
      <h2 id="sim-title">What would this basket earn?</h2>
      <div class="inline">
        {field("sim-member", "Member id", memberId, setMemberId)}
        {field("sim-store", "Store id", storeId, setStoreId)}
        {field("sim-sku", "Item (sku)", sku, setSku)}
        {field("sim-category", "Category", category, setCategory)}
        {field("sim-amount", `Amount (${currency})`, amount, setAmount, "number")}
      </div>
      <fieldset>
        <legend>Under</legend>
        <label><input type="radio" name="sim-under" checked={!underDraft} onChange={() => setUnderDraft(false)} /> the active program</label>
        <label><input type="radio" name="sim-under" id="sim-under-draft" checked={underDraft} onChange={() => setUnderDraft(true)} /> the draft above</label>
      </fieldset>
      <button type="submit" id="simulate">Simulate</button>
      {error && <p role="alert" class="error">{error.field ? `${error.field}: ` : ""}{error.message}</p>}
      {quote && (
        <div id="sim-result" aria-live="polite">
          <p>{format.points(quote.points_earned)} points; tier afterwards: {quote.tier}.</p>
          <table id="sim-breakdown">
            <caption>What each rule gave</caption>
            <thead><tr><th scope="col">Rule</th><th scope="col" class="number">Points</th></tr></thead>
            <tbody>{quote.breakdown.map((b) => <tr><td>{b.rule}</td><td class="number">{format.points(b.points)}</td></tr>)}</tbody>
          </table>
        </div>
      )}
    </form>
  );
}
