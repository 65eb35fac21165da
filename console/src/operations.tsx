// The screens that read what the program runs: the rewards catalog with its stock, the webhook
// endpoints with their delivery log and replay, and in cluster mode the nodes and partitions.
import { useEffect, useState } from "preact/hooks";

import { ApiError, Cluster, Reward, Stats, WebhookDelivery, api } from "./api";
import { useFormat } from "./format";

function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const reload = () => load().then(setValue, (e: ApiError) => setError(e));
  useEffect(() => { reload(); }, deps);
  return { value, error, reload };
}

export function RewardsScreen() {
  const format = useFormat();
  const { value, error } = useLoad(api.rewards);
  const [coupons, setCoupons] = useState<Stats["rewards"]>([]);
  useEffect(() => {
    api.stats(1).then((stats) => setCoupons(stats.rewards), () => setCoupons([]));
  }, []);
  if (error) return <p role="alert" class="error">{error.message}</p>;
  if (!value) return <p role="status">Loading…</p>;
  const issued = (id: string) => coupons.find((c) => c.reward_id === id);
  const stock = (r: Reward) => (r.stock == null ? "unlimited" : `${format.points(r.stock_left ?? 0)} of ${format.points(r.stock)}`);
  return (
    <section aria-labelledby="rewards-title">
      <h1 id="rewards-title">Rewards</h1>
      <table id="rewards">
        <caption>The catalog of program {value.program_version}</caption>
        <thead><tr><th scope="col">Reward</th><th scope="col">Kind</th><th scope="col" class="number">Points</th><th scope="col">Left in stock</th><th scope="col" class="number">Coupons issued</th><th scope="col" class="number">Used</th><th scope="col" class="number">Expired</th><th scope="col" class="number">Active</th><th scope="col">Available</th></tr></thead>
        <tbody>
          {value.rewards.map((r) => (
            <tr key={r.reward_id}>
              <td>{r.name} <span class="help">({r.reward_id})</span></td>
              <td>{r.kind}</td>
              <td class="number">{format.points(r.cost_points)}</td>
              <td>{stock(r)}</td>
              {(["issued", "used", "expired", "active"] as const).map((k) => (
                <td class="number">{format.points(issued(r.reward_id)?.[k] ?? 0)}</td>
              ))}
              <td>{r.available_from || r.available_to ? `${format.time(r.available_from)} – ${format.time(r.available_to)}` : "always"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {value.rewards.length === 0 && <p role="status">The program has no rewards.</p>}
    </section>
  );
}

export function WebhooksScreen() {
  const format = useFormat();
  const { value, error } = useLoad(api.webhooks);
  const [chosen, setChosen] = useState<string | null>(null);
  if (error) return <p role="alert" class="error">{error.message}</p>;
  if (!value) return <p role="status">Loading…</p>;
  return (
    <section aria-labelledby="webhooks-title">
      <h1 id="webhooks-title">Webhooks</h1>
      {value.webhooks.length === 0 && <p role="status">No endpoint is registered (POST /v1/webhooks).</p>}
      {value.webhooks.length > 0 && (
        <table id="endpoints">
          <caption>Endpoints</caption>
          <thead><tr><th scope="col">Address</th><th scope="col">Description</th><th scope="col">Created</th><th scope="col">State</th><th scope="col"><span class="visually-hidden">Log</span></th></tr></thead>
          <tbody>
            {value.webhooks.map((w) => (
              <tr key={w.id}>
                <td>{w.url}</td>
                <td>{w.description || "—"}</td>
                <td>{format.time(w.created_at)}</td>
                <td>{w.disabled ? `disabled${w.disabled_reason ? `: ${w.disabled_reason}` : ""}` : "enabled"}</td>
                <td><button type="button" class="quiet" onClick={() => setChosen(w.id)} aria-pressed={chosen === w.id}>Delivery log</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {chosen && <Deliveries endpoint={chosen} />}
    </section>
  );
}

function Deliveries({ endpoint }: { endpoint: string }) {
  const format = useFormat();
  const { value, error, reload } = useLoad(() => api.deliveries(endpoint), [endpoint]);
  const [since, setSince] = useState("");
  const [replayed, setReplayed] = useState<string | null>(null);
  const replay = async (event: Event) => {
    event.preventDefault();
    if (!confirm(`Send every message since ${since} again to this endpoint?`)) return;
    try {
      await api.replay(endpoint, new Date(since).toISOString());
      setReplayed(`Replay from ${format.time(new Date(since).toISOString())} started.`);
      reload();
    } catch (e) {
      setReplayed((e as Error).message);
    }
  };
  const last = (d: WebhookDelivery) => d.attempts[d.attempts.length - 1];
  return (
    <>
      <h2>Delivery log</h2>
      {error && <p role="alert" class="error">{error.message}</p>}
      {value && (
        <table id="deliveries">
          <caption>Newest messages (times in {format.zone})</caption>
          <thead><tr><th scope="col">Message</th><th scope="col">Type</th><th scope="col">Member</th><th scope="col">Created</th><th scope="col">State</th><th scope="col" class="number">Attempts</th><th scope="col">Last answer</th></tr></thead>
          <tbody>
            {value.deliveries.map((d) => (
              <tr key={d.message_id}>
                <td>{d.message_id}</td>
                <td>{d.type}</td>
                <td>{d.member_id ?? "—"}</td>
                <td>{format.time(d.created_at)}</td>
                <td>{d.state}</td>
                <td class="number">{d.attempts.length}</td>
                <td>{last(d) ? (last(d).status ?? last(d).error ?? "—") : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="inline" onSubmit={replay} aria-labelledby="replay-title">
        <h2 id="replay-title">Replay</h2>
        <label for="replay-since">Send again every message since (this computer's time)</label>
        <input id="replay-since" type="datetime-local" required value={since}
          onInput={(e) => setSince(e.currentTarget.value)} />
        <button type="submit">Replay</button>
        {replayed && <p role="status">{replayed}</p>}
      </form>
    </>
  );
}

export function ClusterScreen() {
  const { value, error } = useLoad<Cluster>(api.cluster);
  if (error?.status === 404) return <p role="status">This server runs alone, not in a cluster.</p>;
  if (error) return <p role="alert" class="error">{error.message}</p>;
  if (!value) return <p role="status">Loading…</p>;
  return (
    <section aria-labelledby="cluster-title">
      <h1 id="cluster-title">Cluster {value.name}</h1>
      <table id="nodes">
        <caption>Nodes (this one: {value.node_id})</caption>
        <thead><tr><th scope="col">Node</th><th scope="col">Address</th><th scope="col">Alive</th><th scope="col" class="number">Partitions caught up</th></tr></thead>
        <tbody>
          {value.nodes.map((n) => (
            <tr key={n.node_id}><td>{n.node_id}</td><td>{n.url}</td><td>{n.alive ? "yes" : "no"}</td><td class="number">{n.caught_up_partitions}</td></tr>
          ))}
        </tbody>
      </table>
      <table id="partitions">
        <caption>Partitions</caption>
        <thead><tr><th scope="col" class="number">Partition</th><th scope="col">Owner</th><th scope="col">Standbys</th><th scope="col">Here</th><th scope="col" class="number">Lag here</th></tr></thead>
        <tbody>
          {value.partitions.map((p) => (
            <tr key={p.partition}><td class="number">{p.partition}</td><td>{p.owner ?? "moving"}</td><td>{p.standbys.join(", ") || "—"}</td><td>{p.role_here}</td><td class="number">{p.lag_here ?? "—"}</td></tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
