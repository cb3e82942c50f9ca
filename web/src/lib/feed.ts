// The audit feed in full: the API answers at most 1,000 events a page and names the next
// page in `Link: <...>; rel="next"` while the log has more; an export follows it to the end.
import { request } from "./api";

export type Fetch = (path: string) => Promise<Response>;

/** The next page's path as `request` takes it (without the leading `/api`), or null. */
export function nextPage(link: string | null): string | null {
  const target = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link ?? "")?.[1];
  if (!target) return null;
  const path = target.startsWith("http") ? new URL(target).pathname + new URL(target).search : target;
  return path.startsWith("/api/") ? path.slice("/api".length) : path;
}

/** Every event the filters match, as the feed's JSON Lines, and how many pages it took. */
export async function wholeFeed(
  filters: Record<string, string>,
  fetchPage: Fetch = request,
): Promise<{ text: string; pages: number }> {
  const query = new URLSearchParams({ limit: "1000" });
  for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
  let path: string | null = `/v1/audit/events?${query}`;
  const seen = new Set<string>();
  const parts: string[] = [];
  while (path !== null && !seen.has(path)) {
    seen.add(path);
    const response = await fetchPage(path);
    const text = await response.text();
    parts.push(text === "" || text.endsWith("\n") ? text : `${text}\n`);
    path = nextPage(response.headers.get("link"));
  }
  return { text: parts.join(""), pages: seen.size };
}
