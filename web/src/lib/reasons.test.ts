import { describe, expect, it } from "vitest";
import { plainReason } from "./reasons";

describe("rejection reasons in plain words", () => {
  it("explains screening's codes, naming the entity types", () => {
    expect(plainReason("personal_data: CREDIT_CARD, AU_TFN")).toBe(
      "the prompt holds personal data that may never reach a model (CREDIT_CARD, AU_TFN)",
    );
    expect(plainReason("content_policy: violence")).toBe(
      "the prompt breaks the content policy (violence)",
    );
  });
  it("shows a reason it does not know as it is", () => {
    expect(plainReason("hard budget of 5.00 AUD for 2026-12 has 0.01 left")).toBe(
      "hard budget of 5.00 AUD for 2026-12 has 0.01 left",
    );
    expect(plainReason(null)).toBe("no reason was recorded");
  });
});
