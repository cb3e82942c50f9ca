import { describe, expect, it } from "vitest";
import type { Schemas } from "./api";
import { MAX_PROMPT, priceRange, promptProblem } from "./validate";

describe("the prompt's checks", () => {
  it("accepts a prompt with newlines and tabs", () => {
    expect(promptProblem("a lighthouse\n\tat dawn")).toBeNull();
  });
  it("asks for a prompt when there is none", () => {
    expect(promptProblem("   ")).toBe("Write what the image should show.");
  });
  it("names the limit when the prompt is too long", () => {
    expect(promptProblem("x".repeat(MAX_PROMPT + 1))).toContain("the limit is 4000");
  });
  it("refuses control characters as the API does", () => {
    expect(promptProblem("bell\u0007")).toContain("control character");
  });
});

function model(id: string, prices: Record<string, Record<string, string>>, available = true) {
  return {
    id,
    available,
    sizes: Object.keys(prices),
    qualities: ["standard", "hd"],
    prices_aud: prices,
  } as unknown as Schemas["CatalogueEntry"];
}

describe("the price before submitting", () => {
  const models = [
    model("sketch", { "1024x1024": { standard: "0.0100", hd: "0.0200" } }),
    model("studio", { "1024x1024": { standard: "0.0400", hd: "0.0800" } }),
    model("off", { "1024x1024": { standard: "0.0010", hd: "0.0010" } }, false),
  ];
  it("spans the models routing may pick, ignoring unavailable ones", () => {
    expect(priceRange(models, "1024x1024", "hd", null)).toEqual({ low: "0.0200", high: "0.0800" });
  });
  it("is one price when the model is chosen", () => {
    expect(priceRange(models, "1024x1024", "standard", "studio")).toEqual({
      low: "0.0400",
      high: "0.0400",
    });
  });
  it("is nothing when no model makes that size", () => {
    expect(priceRange(models, "1792x1024", "standard", null)).toBeNull();
  });
});
