import { describe, expect, it } from "vitest";
import { parseNdjson, toCsv } from "./ndjson";

describe("the audit export", () => {
  it("reads JSON Lines, ignoring the final newline", () => {
    expect(parseNdjson('{"a":1}\n{"a":2}\n')).toEqual([{ a: 1 }, { a: 2 }]);
  });
  it("writes RFC 4180 CSV with nested values as JSON and formulas defused", () => {
    const csv = toCsv(
      [{ type: "X", actor: { user_id: "=cmd" }, note: 'say "hi", then' }, { type: "=1+1" }],
      ["type", "actor", "note"],
    );
    expect(csv).toBe(
      'type,actor,note\r\nX,"{""user_id"":""=cmd""}","say ""hi"", then"\r\n\'=1+1,,\r\n',
    );
  });
});
