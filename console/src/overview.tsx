// The first screen: how the program is doing (GET /v1/stats). Members and who is active, points
// issued, redeemed and expired day by day, what the program owes by the month it lapses, the
// tiers, coupons and jobs. Every figure comes from counters the server keeps, so it loads as fast
// with a million members as with ten.
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  ChartConfiguration,
  DoughnutController,
  Legend,
  LinearScale,
  Tooltip,
} from "chart.js";
import { useEffect, useRef, useState } from "preact/hooks";

import { ApiError, Job, Stats, api } from "./api";
import { useFormat } from "./format";

Chart.register(ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Legend, LinearScale, Tooltip);

// Colours that keep 3:1 against white and apart from each other for colour-blind readers.
const colours = { issued: "#0b5cad", redeemed: "#b35900", expired: "#5f5f5f" };
const tierColours = ["#0b5cad", "#b35900", "#2e7d32", "#6a1b9a", "#5f5f5f", "#00838f"];

export function OverviewScreen() {
  const format = useFormat();
  const [days, setDays] = useState(30);
  const [stats, setStats] = useState<Stats | null>(null);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    api.stats(days).then(setStats, (e: ApiError) => setError(e));
  }, [days]);
  useEffect(() => {
    api.jobs(10).then((page) => setJobs(page.jobs), () => setJobs([]));
  }, []);
  if (error) return <p role="alert" class="error">{error.message}</p>;
  if (!stats) return <p aria-live="polite">Loading the figures…</p>;
  const liability = stats.liability;
  const month = (m: string | null) => m ?? "Never";
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      <p class="help">As of {format.time(stats.as_of)} ({stats.time_zone}); days and months are the program's.</p>
      <dl class="figures" id="overview-figures">
        <div><dt>Members</dt><dd id="stat-members">{format.points(stats.members)}</dd></div>
        <div><dt>Active in the last {stats.active_days} days</dt><dd id="stat-active">{format.points(stats.active_members)}</dd></div>
        <div><dt>Points outstanding</dt><dd id="stat-outstanding">{format.points(liability.outstanding)}</dd></div>
        <div><dt>Points owed by members</dt><dd id="stat-debt">{format.points(liability.debt)}</dd></div>
        <div><dt>Coupons active</dt><dd id="stat-coupons">{format.points(stats.coupons.active)} ({format.points(stats.coupons.points)} points)</dd></div>
        <div><dt>Jobs running</dt><dd id="stat-jobs">{stats.jobs.running} running, {stats.jobs.queued} queued</dd></div>
      </dl>

      <div class="inline">
        <label for="overview-days">Days shown</label>
        <select id="overview-days" value={days} onChange={(e) => setDays(Number(e.currentTarget.value))}>
          {[7, 30, 90, 366].map((n) => <option value={n}>{n}</option>)}
        </select>
      </div>
      <ChartFigure
        id="points-by-day"
        title="Points issued, redeemed and expired by day"
        config={{
          type: "bar",
          data: {
            labels: stats.points_by_day.map((d) => d.date),
            datasets: (["issued", "redeemed", "expired"] as const).map((flow) => ({
              label: flow[0].toUpperCase() + flow.slice(1),
              data: stats.points_by_day.map((d) => d[flow]),
              backgroundColor: colours[flow],
            })),
          },
          options: { scales: { y: { beginAtZero: true } } },
        }}
        head={["Day", "Issued", "Redeemed", "Expired"]}
        rows={stats.points_by_day.map((d) => [d.date, format.points(d.issued), format.points(d.redeemed), format.points(d.expired)])}
      />
      <ChartFigure
        id="liability-by-month"
        title="Points outstanding by the month they expire"
        config={{
          type: "bar",
          data: {
            labels: liability.by_expiry_month.map((m) => month(m.month)),
            datasets: [{ label: "Points", data: liability.by_expiry_month.map((m) => m.points), backgroundColor: colours.issued }],
          },
          options: { plugins: { legend: { display: false } } },
        }}
        head={["Expires at the end of", "Points"]}
        rows={liability.by_expiry_month.map((m) => [month(m.month), format.points(m.points)])}
      />
      <ChartFigure
        id="tiers"
        title="Members by tier"
        config={{
          type: "doughnut",
          data: {
            labels: stats.tiers.map((t) => t.tier),
            datasets: [{ label: "Members", data: stats.tiers.map((t) => t.members), backgroundColor: tierColours }],
          },
          options: {},
        }}
        head={["Tier", "Members"]}
        rows={stats.tiers.map((t) => [t.tier, format.points(t.members)])}
        small
      />
      <table id="recent-jobs">
        <caption>Recent jobs</caption>
        <thead><tr><th scope="col">Job</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col">Asked</th><th scope="col">By</th></tr></thead>
        <tbody>
          {jobs.map((job) => (
            <tr key={job.job_id}>
              <td>{job.job_id}</td>
              <td>{job.state}</td>
              <td>{job.progress ? `${format.points(job.progress.done)} / ${format.points(job.progress.total)}` : "—"}</td>
              <td>{format.time(job.created_at)}</td>
              <td>{job.requested_by ?? "schedule"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

// A Chart.js chart and, for screen readers, the same figures as a table.
function ChartFigure(props: {
  id: string;
  title: string;
  config: ChartConfiguration<"bar" | "doughnut", number[], string>;
  head: string[];
  rows: string[][];
  small?: boolean;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const config = props.config;
    const chart = new Chart(canvas.current, {
      ...config,
      options: { ...config.options, animation: false, responsive: true, maintainAspectRatio: false },
    } as ChartConfiguration<"bar" | "doughnut", number[], string>);
    return () => chart.destroy();
  }, [props.config]);
  const caption = `${props.id}-caption`;
  return (
    <figure class="chart">
      <figcaption id={caption}>{props.title}</figcaption>
      <div class={props.small ? "chart-box small" : "chart-box"}>
        <canvas ref={canvas} id={`${props.id}-chart`} role="img" aria-labelledby={caption} />
      </div>
      <table class="visually-hidden" id={`${props.id}-table`}>
        <caption>{props.title}</caption>
        <thead><tr>{props.head.map((h) => <th scope="col">{h}</th>)}</tr></thead>
        <tbody>{props.rows.map((r) => <tr>{r.map((c) => <td>{c}</td>)}</tr>)}</tbody>
      </table>
    </figure>
  );
}
