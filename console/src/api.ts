// The console speaks only the public API (docs/api.md), with the admin key the operator pasted
// in. The key lives in this tab's session storage and travels in the Authorization header only:
// never in a URL (a URL ends up in logs and histories) and never in a cookie.

const keyName = "loyalty.console.key";

export function storedKey(): string | null {
  return sessionStorage.getItem(keyName);
}

export function signIn(key: string): void {
  sessionStorage.setItem(keyName, key);
}

// Sent when the server stops knowing the stored key (it was removed from server.toml).
export const signedOutEvent = "loyalty:signed-out";

export function signOut(): void {
  sessionStorage.removeItem(keyName);
}

// A refusal as the API words it (application/problem+json): what to show, and the field or
// TOML key it names, so a form can put the message next to that field.
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly field: string | null,
  ) {
    super(message);
  }
}

type Problem = { detail?: string; code?: string; errors?: { field?: string }[] };

export async function call<T>(method: string, path: string, body?: unknown, key = storedKey()): Promise<T> {
  const headers: Record<string, string> = {};
  if (key) headers["Authorization"] = `Bearer ${key}`;
  let payload: string | undefined;
  if (typeof body === "string") {
    headers["Content-Type"] = "application/toml";
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload, cache: "no-store" });
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const problem = (parsed ?? {}) as Problem;
    if (response.status === 401 && key === storedKey()) {
      signOut();
      dispatchEvent(new Event(signedOutEvent));
    }
    throw new ApiError(
      problem.detail ?? `${response.status} ${response.statusText}`,
      response.status,
      problem.code ?? "",
      problem.errors?.[0]?.field ?? null,
    );
  }
  return parsed as T;
}

export type Balance = { available: number; pending: number; held: number };

export type Member = {
  member_id: string;
  joined_at: string;
  tier: string;
  balance: Balance;
  lifetime_points: number;
  purchase_count: number;
  referral_code: string;
  program_version: string;
  blocked?: boolean;
  erased_at?: string;
};

export type LedgerEntry = {
  id: string;
  seq: number;
  type: string;
  points: number;
  at: string;
  reference: string;
  rule: string;
  program_version: number;
  balance_after: number;
  actor: string | null;
};

export type ProgramVersion = {
  version: number;
  label: string;
  program_id: string;
  currency: string;
  time_zone: string;
  activated_at: string;
  active?: boolean;
  source_toml?: string;
};

export type Page<T, K extends string> = { [key in K]: T[] } & { next_cursor: string | null };

export type Reward = {
  reward_id: string;
  name: string;
  kind: string;
  cost_points: number;
  stock?: number | null;
  stock_left?: number | null;
  available_from?: string | null;
  available_to?: string | null;
};

export type WebhookEndpoint = {
  id: string;
  url: string;
  event_types?: string[];
  description?: string;
  disabled: boolean;
  disabled_reason?: string | null;
  created_at: string;
};

export type WebhookDelivery = {
  message_id: string;
  type: string;
  member_id?: string | null;
  created_at: string;
  state: string;
  attempts: { at: string; status: number | null; error?: string; duration_ms: number }[];
  next_attempt_at?: string | null;
};

export type Cluster = {
  name: string;
  node_id: string;
  nodes: { node_id: string; url: string; alive: boolean; caught_up_partitions: number }[];
  partitions: { partition: number; owner: string | null; epoch: number; standbys: string[]; role_here: string; lag_here?: number }[];
  failovers?: number;
};

export type RecalcChange = {
  member_id: string;
  event_id: string;
  occurred_at: string;
  old_points: number;
  new_points: number;
  delta: number;
};

export type RecalcReport = {
  mode: string;
  program: string;
  events_examined: number;
  events_changed: number;
  members_affected: number;
  total_delta: number;
  histogram: { label: string; min: number | null; max: number | null; count: number }[];
  largest: RecalcChange[];
};

export type Job = {
  job_id: string;
  type: string;
  state: "queued" | "running" | "succeeded" | "failed";
  created_at?: string;
  requested_by?: string | null;
  progress?: { done: number; total: number; eta_seconds?: number | null } | null;
  result: RecalcReport | null;
  error: string | null;
};

export type Stats = {
  as_of: string;
  currency: string;
  time_zone: string;
  members: number;
  active_members: number;
  active_days: number;
  tiers: { tier: string; members: number }[];
  points_by_day: { date: string; issued: number; redeemed: number; expired: number; by_type: Record<string, number> }[];
  liability: {
    points_in_lots: number;
    debt: number;
    outstanding: number;
    by_expiry_month: { month: string | null; points: number }[];
  };
  coupons: { active: number; points: number };
  rewards: { reward_id: string; issued: number; active: number; used: number; expired: number; cancelled: number }[];
  jobs: { running: number; queued: number };
};

export type StoredPurchase = {
  event_id: string;
  member_id: string;
  store_id: string;
  occurred_at: string;
  order_total_minor: number;
  eligible_minor: number;
  points_earned: number;
  points_redeemed: number;
  breakdown: { rule: string; points: number }[];
  lines: { sku: string; amount_minor: number; eligible_minor: number; refunded_minor: number }[];
  coupons_used: string[];
  refunded_minor: number;
  points_reversed: number;
  points_restored: number;
  points_adjusted: number;
  tier_after: string;
};

export type Quote = {
  member_id: string;
  points_earned: number;
  points_redeemed: number;
  breakdown: { rule: string; points: number }[];
  tier: string;
  tier_changed: boolean;
};

export type Notification = { seq: number; type: string; points: number; reference: string; at: string };

const member = (id: string) => `/v1/members/${encodeURIComponent(id)}`;
const webhook = (id: string) => `/v1/webhooks/${encodeURIComponent(id)}`;

export const api = {
  program: () => call<ProgramVersion>("GET", "/v1/program"),
  purchase: (eventId: string) => call<StoredPurchase>("GET", `/v1/purchases/${encodeURIComponent(eventId)}`),
  stats: (days: number) => call<Stats>("GET", `/v1/stats?days=${days}`),
  versions: () => call<{ versions: ProgramVersion[] }>("GET", "/v1/program/versions"),
  version: (n: number) => call<ProgramVersion>("GET", `/v1/program/versions/${n}`),
  validate: (toml: string) => call<{ valid: boolean }>("POST", "/v1/program:validate", toml),
  activate: (toml: string) => call<ProgramVersion>("PUT", "/v1/program", toml),
  search: (query: string, tier = "", cursor: string | null = null) => {
    const params = new URLSearchParams({ limit: "50" });
    if (query) params.set("query", query);
    if (tier) params.set("tier", tier);
    if (cursor) params.set("cursor", cursor);
    return call<Page<Member, "members">>("GET", `/v1/members?${params}`);
  },
  member: (id: string) => call<Member>("GET", member(id)),
  ledger: (id: string, cursor: string | null) =>
    call<Page<LedgerEntry, "entries">>(
      "GET",
      `${member(id)}/ledger?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    ),
  quote: (body: Record<string, unknown>) => call<Quote>("POST", "/v1/quotes", body),
  feed: (id: string, afterSeq: number, limit: number) =>
    call<{ latest_seq: number; notifications: Notification[] }>(
      "GET",
      `${member(id)}/notifications?after_seq=${afterSeq}&limit=${limit}`,
    ),
  erase: (id: string, reason: string) =>
    call<Member>("POST", `${member(id)}:erase`, { erasure_id: `console-${crypto.randomUUID()}`, reason }),
  change: (id: string, fields: { phone?: string | null; card_no?: string | null; blocked?: boolean; reason?: string }) =>
    call<Member>("PATCH", member(id), fields),
  rewards: () => call<{ program_version: string; rewards: Reward[] }>("GET", "/v1/rewards"),
  webhooks: () => call<{ webhooks: WebhookEndpoint[] }>("GET", "/v1/webhooks"),
  deliveries: (id: string) =>
    call<Page<WebhookDelivery, "deliveries">>("GET", `${webhook(id)}/deliveries?limit=50`),
  replay: (id: string, since: string) => call<unknown>("POST", `${webhook(id)}:replay`, { since }),
  cluster: () => call<Cluster>("GET", "/v1/cluster"),
  recalculate: (program_toml: string, from: string, to: string, dry_run: boolean) =>
    call<Job>("POST", "/v1/jobs", { type: "recalculate", program_toml, from, to, dry_run }),
  job: (id: string) => call<Job>("GET", `/v1/jobs/${encodeURIComponent(id)}`),
  jobs: (limit: number) => call<Page<Job, "jobs">>("GET", `/v1/jobs?limit=${limit}`),
  adjust: (id: string, points: number, reason: string) =>
    call<{ points: number }>("POST", `${member(id)}/adjustments`, {
      adjustment_id: `console-${crypto.randomUUID()}`,
      points,
      reason,
    }),
};
