import { describe, expect, it } from "vitest";
import type { Schemas } from "../lib/api";
import { stepsDone } from "./Generation";

const base = {
  status: "requested",
  screening: null,
  model_id: null,
  image_sha256: null,
  cost_aud: null,
} as unknown as Schemas["GenerationView"];

describe("how far a generation got", () => {
  it("counts every step up to a live status", () => {
    expect([...stepsDone({ ...base, status: "routed" })]).toEqual(["requested", "screened", "routed"]);
  });
  it("shows a rejected prompt stopped at the request", () => {
    const rejected = { ...base, status: "rejected", screening: { outcome: "rejected" } };
    expect([...stepsDone(rejected as Schemas["GenerationView"])]).toEqual(["requested"]);
  });
  it("shows a failure after routing as screened and routed", () => {
    const failed = { ...base, status: "failed", screening: { outcome: "passed" }, model_id: "m" };
    expect([...stepsDone(failed as Schemas["GenerationView"])]).toEqual([
      "requested",
      "screened",
      "routed",
    ]);
  });
});
