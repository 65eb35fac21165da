// Numbers in the program's currency and times in the program's zone (api.md "Operator
// console"), whatever the operator's browser is set to.
import { createContext } from "preact";
import { useContext } from "preact/hooks";

export type Settings = { currency: string; timeZone: string };

export const SettingsContext = createContext<Settings>({ currency: "CNY", timeZone: "UTC" });

export function useFormat() {
  const { currency, timeZone } = useContext(SettingsContext);
  const money = new Intl.NumberFormat(undefined, { style: "currency", currency });
  const minorDigits = money.resolvedOptions().maximumFractionDigits ?? 2;
  const points = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const time = new Intl.DateTimeFormat(undefined, {
    timeZone,
    dateStyle: "medium",
    timeStyle: "short",
  });
  return {
    points: (n: number) => points.format(n),
    signed: (n: number) => (n > 0 ? "+" : "") + points.format(n),
    time: (rfc3339: string | null | undefined) => (rfc3339 ? time.format(new Date(rfc3339)) : "—"),
    // Amounts travel in minor units (fen, cents): shown in the program's currency.
    money: (minor: number) => money.format(minor / 10 ** minorDigits),
    zone: timeZone,
  };
}
