import { describe, expect, it } from "vitest";
import { dateTime, day, money, nextDay, sydneyInstant, sydneyMidnight, sydneyMonth } from "./format";

describe("money", () => {
  it("shows AUD with cents", () => {
    expect(money("500.00")).toBe("$500.00");
    expect(money("1234.5")).toBe("$1,234.50");
  });
  it("keeps the API's four decimals where it gives them", () => {
    expect(money("0.0125")).toBe("$0.0125");
    expect(money("499.9900")).toBe("$499.9900");
  });
  it("shows a dash for no amount", () => {
    expect(money(null)).toBe("—");
    expect(money(undefined)).toBe("—");
  });
});

describe("dates in Sydney", () => {
  it("shows an instant on Sydney's clock, daylight saving included", () => {
    // 03:28 UTC on 7 Dec is 14:28 in Sydney (AEDT, UTC+11).
    expect(dateTime("2026-12-07T03:28:13Z")).toBe("7 Dec 2026, 2:28:13 pm");
    // 03:28 UTC on 7 Jul is 13:28 (AEST, UTC+10).
    // en-AU writes June and July in full even in the short form.
    expect(dateTime("2026-07-07T03:28:13Z")).toBe("7 July 2026, 1:28:13 pm");
  });
  it("puts an instant in Sydney's month, not UTC's", () => {
    // 14:00 UTC on 30 Nov is already 1 Dec in Sydney.
    expect(sydneyMonth(new Date("2026-11-30T14:00:00Z"))).toBe("2026-12");
    expect(sydneyMonth(new Date("2026-11-30T12:00:00Z"))).toBe("2026-11");
  });
  it("names a Sydney day as it is given", () => {
    expect(day("2026-12-07")).toBe("Mon, 7 Dec");
  });
});

describe("a Sydney day as an instant", () => {
  it("carries Sydney's offset on that day, daylight saving or not", () => {
    expect(sydneyMidnight("2026-12-07")).toBe("2026-12-07T00:00:00+11:00");
    expect(sydneyMidnight("2026-07-07")).toBe("2026-07-07T00:00:00+10:00");
  });
  it("uses the offset in force at midnight on the days the clocks change", () => {
    // Daylight saving starts at 02:00 on 4 Oct 2026 and ends at 03:00 on 5 Apr 2026.
    expect(sydneyMidnight("2026-10-04")).toBe("2026-10-04T00:00:00+10:00");
    expect(sydneyMidnight("2026-04-05")).toBe("2026-04-05T00:00:00+11:00");
  });
});

describe("a time on Sydney's clock as an instant", () => {
  // The browser's own zone must not matter: these run with TZ set far from Sydney too
  // (vitest.config's env), where `new Date(local)` would read the time as that zone's.
  it("reads the wall clock as Sydney's, not the browser's", () => {
    expect(sydneyInstant("2026-12-07T14:28")).toBe("2026-12-07T14:28:00+11:00");
    expect(sydneyInstant("2026-07-07T09:05:30")).toBe("2026-07-07T09:05:30+10:00");
    expect(new Date(sydneyInstant("2026-12-07T14:28")).toISOString()).toBe("2026-12-07T03:28:00.000Z");
  });
  it("picks daylight time in the repeated hour and standard time in the skipped one", () => {
    // 5 Apr 2026: 02:30 happens twice (first at +11). 4 Oct 2026: 02:30 never happens.
    expect(sydneyInstant("2026-04-05T02:30")).toBe("2026-04-05T02:30:00+11:00");
    expect(sydneyInstant("2026-04-05T03:30")).toBe("2026-04-05T03:30:00+10:00");
    expect(sydneyInstant("2026-10-04T02:30")).toBe("2026-10-04T02:30:00+10:00");
    expect(sydneyInstant("2026-10-04T03:30")).toBe("2026-10-04T03:30:00+11:00");
  });
});

describe("the next day", () => {
  it("crosses months and leap days", () => {
    expect(nextDay("2026-12-31")).toBe("2027-01-01");
    expect(nextDay("2028-02-28")).toBe("2028-02-29");
  });
});
