// The operator console (api.md "Operator console"): sign-in with an admin key, then the screens,
// each on a hash route (#/members/m-42) so that the server serves one page and no key or member
// ever appears in a path the server logs.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";

import { ApiError, ProgramVersion, api, call, signIn, signOut, signedOutEvent, storedKey } from "./api";
import { Settings, SettingsContext } from "./format";
import { MemberPage, MembersScreen } from "./members";
import { ClusterScreen, RewardsScreen, WebhooksScreen } from "./operations";
import { OverviewScreen } from "./overview";
import { ProgramScreen } from "./program";
import { RecalcScreen } from "./recalc";

function useHashRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

function SignIn({ done }: { done: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      // Admin only: a pos or app key is refused here rather than on every screen.
      await call("GET", "/v1/program/versions", undefined, key.trim());
      signIn(key.trim());
      done();
    } catch (e) {
      const status = e instanceof ApiError ? e.status : 0;
      setError(
        status === 401 ? "This key is not known to the server." :
        status === 403 ? "This key is not an admin key." :
        `The server did not answer (${(e as Error).message}).`,
      );
    }
  };
  return (
    <main class="sign-in">
      <h1>Loyalty Engine console</h1>
      <form onSubmit={submit}>
        <label for="key">Admin API key</label>
        <input id="key" type="password" autocomplete="off" value={key} required
          onInput={(e) => setKey(e.currentTarget.value)} aria-describedby="key-help" />
        <p id="key-help" class="help">Kept in this tab only; closing the tab signs you out.</p>
        {error && <p role="alert" class="error">{error}</p>}
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}

const screens = [
  { path: "overview", title: "Overview" },
  { path: "members", title: "Members" },
  { path: "program", title: "Program" },
  { path: "recalculation", title: "Recalculation" },
  { path: "rewards", title: "Rewards" },
  { path: "webhooks", title: "Webhooks" },
  { path: "cluster", title: "Cluster" },
];

function Shell({ signedOut }: { signedOut: () => void }) {
  const route = useHashRoute();
  const [program, setProgram] = useState<ProgramVersion | null>(null);
  useEffect(() => {
    api.program().then(setProgram, () => setProgram(null));
  }, []);
  const screen = route[0] || "overview";
  const settings: Settings = {
    currency: program?.currency ?? "CNY",
    timeZone: program?.time_zone ?? "UTC",
  };
  let content;
  if (screen === "overview") content = <OverviewScreen />;
  else if (screen === "members" && route[1]) content = <MemberPage memberId={route[1]} />;
  else if (screen === "members") content = <MembersScreen />;
  else if (screen === "program") content = <ProgramScreen />;
  else if (screen === "recalculation") content = <RecalcScreen />;
  else if (screen === "rewards") content = <RewardsScreen />;
  else if (screen === "webhooks") content = <WebhooksScreen />;
  else if (screen === "cluster") content = <ClusterScreen />;
  else content = <p>There is no such screen.</p>;
  return (
    <SettingsContext.Provider value={settings}>
      <header>
        <span class="brand">Loyalty Engine</span>
        <nav aria-label="Screens">
          {screens.map((s) => (
            <a href={`#/${s.path}`} aria-current={s.path === screen ? "page" : undefined}>{s.title}</a>
          ))}
        </nav>
        <button type="button" class="quiet" onClick={() => { signOut(); signedOut(); }}>Sign out</button>
      </header>
      <main>{content}</main>
    </SettingsContext.Provider>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState(storedKey() !== null);
  useEffect(() => {
    const out = () => setSignedIn(false);
    addEventListener(signedOutEvent, out);
    return () => removeEventListener(signedOutEvent, out);
  }, []);
  return signedIn ? <Shell signedOut={() => setSignedIn(false)} /> : <SignIn done={() => setSignedIn(true)} />;
}

render(<App />, document.getElementById("app")!);
