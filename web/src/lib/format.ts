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
  const [y, m, d] = isoDay.split("-").map(Number);
  // Noon UTC the day before is 22:00 or 23:00 in Sydney: the evening before the day,
  // after any clock change of the previous night and before one at 02:00 or 03:00.
  const probe = new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, (d ?? 1) - 1, 12));
  const name = new Intl.DateTimeFormat("en-AU", { timeZone: ZONE, timeZoneName: "longOffset" })
    .formatToParts(probe)
    .find((p) => p.type === "timeZoneName")?.value;
  const offset = name?.replace("GMT", "") || "+00:00";
  return `${isoDay}T00:00:00${offset}`;
}

/** The calendar day after YYYY-MM-DD. */
export function nextDay(isoDay: string): string {
  const [y, m, d] = isoDay.split("-").map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + 1)).toISOString().slice(0, 10);
}
