import { describe, expect, it } from "vitest";
import { nextPage, wholeFeed } from "./feed";

// A feed of `total` events served as the API serves it: pages of `limit`, the cursor in
// `after`, `Link: rel="next"` while more remain (functions/audit_log.py's shape).
function feed(total: number) {
  const asked: string[] = [];
  const fetchPage = async (path: string): Promise<Response> => {
    asked.push(path);
    const url = new URL(path, "http://console.test");
    const limit = Number(url.searchParams.get("limit") ?? "1000");
    const after = Number(url.searchParams.get("after") ?? "0");
    const end = Math.min(after + limit, total);
    const lines = Array.from({ length: end - after }, (_, i) =>
      JSON.stringify({ version: after + i + 1, type: url.searchParams.get("type") }),
    );
    const headers = new Headers({ "content-type": "application/x-ndjson", "audit-after": String(end) });
    if (end < total) {
      url.searchParams.set("after", String(end));
      headers.set("link", `</api${url.pathname}?${url.searchParams}>; rel="next"`);
    }
    return new Response(lines.map((l) => `${l}\n`).join(""), { headers });
  };
  return { asked, fetchPage };
}

describe("the whole feed", () => {
  it("follows the next links past 1,000 events until the log has no more", async () => {
    const { asked, fetchPage } = feed(2_345);
    const { text, pages } = await wholeFeed({ type: "BudgetSet", user_id: "" }, fetchPage);
    const versions = text.trim().split("\n").map((l) => (JSON.parse(l) as { version: number }).version);
    expect(versions).toHaveLength(2_345);
    expect(versions).toEqual(Array.from({ length: 2_345 }, (_, i) => i + 1));
    expect(pages).toBe(3);
    // The filters ride along on every page; empty ones are not sent.
    expect(asked.every((p) => p.includes("type=BudgetSet") && !p.includes("user_id"))).toBe(true);
    expect(asked[0]).toBe("/v1/audit/events?limit=1000&type=BudgetSet");
  });

  it("asks once when everything fits on a page", async () => {
    const { asked, fetchPage } = feed(1_000);
    expect((await wholeFeed({}, fetchPage)).text.trim().split("\n")).toHaveLength(1_000);
    expect(asked).toHaveLength(1);
  });

  it("reads the next page from a relative or absolute link", () => {
    expect(nextPage('</api/v1/audit/events?after=9>; rel="next"')).toBe("/v1/audit/events?after=9");
    expect(nextPage('<https://func.example/api/v1/audit/events?after=9>; rel="next"')).toBe(
      "/v1/audit/events?after=9",
    );
    expect(nextPage(null)).toBeNull();
    expect(nextPage('</api/v1/x>; rel="prev"')).toBeNull();
  });
});
