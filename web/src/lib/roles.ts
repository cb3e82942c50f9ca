// The seven app roles and the pages each may see: the console shows only what the API
// would allow, so nobody meets a page that can only answer 403.
export const ROLES = [
  "Generator.Standard",
  "Generator.Power",
  "Dept.Manager",
  "Finance.Reader",
  "Compliance.Auditor",
  "Org.Admin",
  "Platform.Admin",
] as const;
export type Role = (typeof ROLES)[number];

export type PageId = "generate" | "gallery" | "budget" | "finance" | "audit" | "models";

export interface Page {
  id: PageId;
  path: string;
  label: string;
  roles: readonly Role[];
}

const ADMINS: readonly Role[] = ["Org.Admin", "Platform.Admin"];
const GENERATORS: readonly Role[] = ["Generator.Standard", "Generator.Power", ...ADMINS];

export const PAGES: readonly Page[] = [
  { id: "generate", path: "/generate", label: "Generate", roles: GENERATORS },
  {
    id: "gallery",
    path: "/gallery",
    label: "Gallery",
    roles: [...GENERATORS, "Dept.Manager"],
  },
  { id: "budget", path: "/budget", label: "Budget", roles: ["Dept.Manager", ...ADMINS] },
  { id: "finance", path: "/finance", label: "Finance", roles: ["Finance.Reader", ...ADMINS] },
  { id: "audit", path: "/audit", label: "Audit", roles: ["Compliance.Auditor", ...ADMINS] },
  { id: "models", path: "/models", label: "Models", roles: ROLES },
];

export function pagesFor(roles: readonly string[]): Page[] {
  return PAGES.filter((page) => page.roles.some((role) => roles.includes(role)));
}

/** Where a person lands after sign-in: their first page. */
export function homeFor(roles: readonly string[]): string {
  return pagesFor(roles)[0]?.path ?? "/models";
}
