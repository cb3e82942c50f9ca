// Money and time as an Australian reader expects them: AUD, Sydney's clock.
export const ZONE = "Australia/Sydney";

/** "$1,234.50"; the API's 4-decimal amounts keep their 4 places ("$0.0125"). */
export function money(amount: string | null | undefined): string {
  if (amount === null || amount === undefined || amount === "") return "—";
  const [, fraction = ""] = amount.split(".");
  const places = fraction.length > 2 ? 4 : 2;
  return new Intl.NumberFormat("en-AU", {
    style: "currency",
    currency: "AUD",
    minimumFractionDigits: places,
    maximumFractionDigits: places,
  }).format(Number(amount));
}

/** "7 Dec 2026, 2:28:13 pm" in Sydney, from an ISO instant. */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Intl.DateTimeFormat("en-AU", {
    timeZone: ZONE,
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "numeric",
    minute: "2-digit",
    second: "2-digit",
  }).format(new Date(iso));
}

/** "Mon, 7 Dec" for a Sydney calendar day given as YYYY-MM-DD (already Sydney's). */
export function day(isoDay: string): string {
  const [y, m, d] = isoDay.split("-").map(Number);
  const noon = new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1, 12));
  return new Intl.DateTimeFormat("en-AU", {
    timeZone: "UTC",
    weekday: "short",
    day: "numeric",
    month: "short",
  }).format(noon);
}

/** The Sydney month (YYYY-MM) an instant falls in: a budget period. */
export function sydneyMonth(at: Date = new Date()): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: ZONE,
    year: "numeric",
    month: "2-digit",
  }).formatToParts(at);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}`;
}

/** The instant a Sydney calendar day (YYYY-MM-DD) begins, as ISO 8601 with Sydney's
 * offset that day ("2026-12-07T00:00:00+11:00"): what the API's `from`/`to` take. */
export function sydneyMidnight(isoDay: string): string {
  return sydneyInstant(`${isoDay}T00:00`);
}

/** A wall-clock time read on Sydney's clock (a `datetime-local` value, "YYYY-MM-DDTHH:MM"
 * with optional seconds) as ISO 8601 with Sydney's offset at that time, whatever zone the
 * browser is in. In the hour repeated when daylight saving ends, the first (daylight) one;
 * in the hour skipped when it starts, standard time (so 02:30 reads as 03:30 daylight). */
export function sydneyInstant(local: string): string {
  const [datePart = "", timePart = ""] = local.split("T");
  const [y, m, d] = datePart.split("-").map(Number);
  const [hh, mm, ss] = timePart.split(":").map(Number);
  const wall = Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1, hh ?? 0, mm ?? 0, ss ?? 0);
  const hour = 3_600_000;
  // Sydney's offsets either side of the time; the one that reproduces the wall clock wins.
  const offsets = [...new Set([offsetMinutes(wall - 24 * hour), offsetMinutes(wall + 24 * hour)])]
    .sort((a, b) => b - a);
  const chosen = offsets.find((o) => offsetMinutes(wall - o * 60_000) === o) ?? Math.min(...offsets);
  const seconds = String(ss ?? 0).padStart(2, "0");
  return `${datePart}T${timePart.slice(0, 5)}:${seconds}${formatOffset(chosen)}`;
}

function offsetMinutes(instant: number): number {
  const name = new Intl.DateTimeFormat("en-AU", { timeZone: ZONE, timeZoneName: "longOffset" })
    .formatToParts(new Date(instant))
    .find((p) => p.type === "timeZoneName")?.value;
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name ?? "");
  if (!match) return 0;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === "-" ? -minutes : minutes;
}

function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** The calendar day after YYYY-MM-DD. */
export function nextDay(isoDay: string): string {
  const [y, m, d] = isoDay.split("-").map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + 1)).toISOString().slice(0, 10);
}
