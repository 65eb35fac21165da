// Marketing's recalculation: re-run a range of purchases under a draft program, look at what it
// would change (the histogram of deltas as a chart, the largest ones), then apply it after a
// confirmation, with live progress. The server keeps the job: leaving the page loses nothing.
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from "chart.js";
import { useEffect, useRef, useState } from "preact/hooks";

import { ApiError, Job, RecalcReport, api } from "./api";
import { useFormat } from "./format";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

// An RFC 3339 instant from a datetime-local field (the operator's computer's time).
const instant = (local: string) => new Date(local).toISOString().replace(/\.\d{3}Z$/, "Z");

export function RecalcScreen() {
  const [draft, setDraft] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    api.program().then((p) => setDraft(p.source_toml ?? ""), (e: ApiError) => setError(e));
  }, []);
  useEffect(() => {
    if (!job || job.state === "succeeded" || job.state === "failed") return;
    const timer = setTimeout(() => api.job(job.job_id).then(setJob, (e: ApiError) => setError(e)), 400);
    return () => clearTimeout(timer);
  }, [job]);
  const run = async (dryRun: boolean) => {
    setError(null);
    try {
      setJob(await api.recalculate(draft, instant(from), instant(to), dryRun));
    } catch (e) {
      setError(e as ApiError);
    }
  };
  const dryRun = (event: Event) => {
    event.preventDefault();
    run(true);
  };
  const apply = () => {
    const changed = job?.result?.events_changed ?? 0;
    if (confirm(`Write an adjustment for each of the ${changed} changed purchases? This cannot be undone by the console.`)) run(false);
  };
  return (
    <section aria-labelledby="recalc-title">
      <h1 id="recalc-title">Recalculation</h1>
      <form onSubmit={dryRun} aria-describedby="recalc-help">
        <p id="recalc-help" class="help">Purchases that happened in the range are earned again under the draft; a dry run changes nothing.</p>
        <div class="inline">
          <label for="recalc-from">From (this computer's time)</label>
          <input id="recalc-from" type="datetime-local" step="1" required value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
          <label for="recalc-to">To, not included</label>
          <input id="recalc-to" type="datetime-local" step="1" required value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        </div>
        <label for="recalc-program">program.toml to recalculate with</label>
        <textarea id="recalc-program" rows={10} spellcheck={false} value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)}
          aria-invalid={error?.field ? "true" : undefined} />
        <button type="submit" id="recalc-dry-run">Dry run</button>
      </form>
      {error && <p role="alert" class="error">{error.field ? `${error.field}: ` : ""}{error.message}</p>}
      {job && <JobView job={job} apply={apply} />}
    </section>
  );
}

function JobView({ job, apply }: { job: Job; apply: () => void }) {
  const format = useFormat();
  const report = job.result;
  const dry = job.job_id.endsWith("-dry-run");
  return (
    <div aria-live="polite">
      <h2>{dry ? "Dry run" : "Applied"}: {job.state}</h2>
      {job.progress && job.state === "running" && (
        <>
          <label for="recalc-progress">Progress</label>
          <progress id="recalc-progress" max={job.progress.total || 1} value={job.progress.done} />
        </>
      )}
      {job.error && <p role="alert" class="error">{job.error}</p>}
      {report && (
        <>
          <dl class="figures" id="recalc-figures">
            <div><dt>Purchases examined</dt><dd>{format.points(report.events_examined)}</dd></div>
            <div><dt>Purchases changed</dt><dd id="recalc-changed">{format.points(report.events_changed)}</dd></div>
            <div><dt>Members affected</dt><dd>{format.points(report.members_affected)}</dd></div>
            <div><dt>Points in all</dt><dd id="recalc-total">{format.signed(report.total_delta)}</dd></div>
          </dl>
          <Histogram report={report} />
          <table id="recalc-largest">
            <caption>The largest changes</caption>
            <thead><tr><th scope="col">Member</th><th scope="col">Purchase</th><th scope="col">When</th><th scope="col" class="number">Before</th><th scope="col" class="number">After</th><th scope="col" class="number">Change</th></tr></thead>
            <tbody>
              {report.largest.map((c) => (
                <tr key={c.event_id}>
                  <td><a href={`#/members/${encodeURIComponent(c.member_id)}`}>{c.member_id}</a></td>
                  <td>{c.event_id}</td>
                  <td>{format.time(c.occurred_at)}</td>
                  <td class="number">{format.points(c.old_points)}</td>
                  <td class="number">{format.points(c.new_points)}</td>
                  <td class="number">{format.signed(c.delta)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {dry && job.state === "succeeded" && report.events_changed > 0 && (
            <button type="button" id="recalc-apply" onClick={apply}>Apply these changes…</button>
          )}
        </>
      )}
    </div>
  );
}

// The deltas' histogram as a bar chart, and the same figures as a table for screen readers.
function Histogram({ report }: { report: RecalcReport }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const chart = new Chart(canvas.current, {
      type: "bar",
      data: {
        labels: report.histogram.map((b) => b.label),
        datasets: [{ label: "Purchases", data: report.histogram.map((b) => b.count), backgroundColor: "#0b5cad" }],
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
    return () => chart.destroy();
  }, [report]);
  return (
    <figure class="chart">
      <figcaption id="histogram-caption">Purchases by change in points</figcaption>
      <div class="chart-box">
        <canvas ref={canvas} id="recalc-histogram" role="img" aria-labelledby="histogram-caption" />
      </div>
      <table class="visually-hidden" id="recalc-histogram-table">
        <caption>Purchases by change in points</caption>
        <thead><tr><th scope="col">Change</th><th scope="col">Purchases</th></tr></thead>
        <tbody>{report.histogram.map((b) => <tr key={b.label}><td>{b.label}</td><td>{b.count}</td></tr>)}</tbody>
      </table>
    </figure>
  );
}
