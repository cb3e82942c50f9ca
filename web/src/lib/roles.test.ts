import { describe, expect, it } from "vitest";
import { ROLES, homeFor, pagesFor } from "./roles";

const labels = (roles: string[]) => pagesFor(roles).map((p) => p.label);

describe("role-based navigation", () => {
  it("offers the seven app roles", () => {
    expect(ROLES).toHaveLength(7);
  });
  it("gives a requester the generate form, their gallery and the models", () => {
    expect(labels(["Generator.Standard"])).toEqual(["Generate", "Gallery", "Models"]);
    expect(homeFor(["Generator.Standard"])).toBe("/generate");
  });
  it("gives a manager the department's generations but not the form", () => {
    expect(labels(["Dept.Manager"])).toEqual(["Gallery", "Budget", "Models"]);
  });
  it("shows finance and compliance nothing they cannot use", () => {
    expect(labels(["Finance.Reader"])).toEqual(["Finance", "Models"]);
    expect(labels(["Compliance.Auditor"])).toEqual(["Audit", "Models"]);
  });
  it("adds roles up", () => {
    expect(labels(["Dept.Manager", "Generator.Standard"])).toEqual([
      "Generate",
      "Gallery",
      "Budget",
      "Models",
    ]);
  });
  it("shows an admin every page", () => {
    expect(labels(["Org.Admin"])).toEqual(["Generate", "Gallery", "Budget", "Finance", "Audit", "Models"]);
  });
  it("shows a token with no known role nothing", () => {
    expect(labels(["Root"])).toEqual([]);
  });
});
