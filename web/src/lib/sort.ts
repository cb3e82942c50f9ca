// Sorting the finance table: text columns by name, money columns by amount.
import type { Schemas } from "./api";

export type Column = "department_id" | "limit_aud" | "spent_aud" | "remaining_aud" | "forecast_aud" | "used";
export type Direction = "ascending" | "descending";

export function usedShare(b: Schemas["Budget"]): number | null {
  const limit = b.limit_aud === null ? 0 : Number(b.limit_aud);
  return limit > 0 ? Number(b.spent_aud) / limit : null;
}

function value(b: Schemas["Budget"], column: Column): string | number | null {
  if (column === "department_id") return b.department_id;
  if (column === "used") return usedShare(b);
  const amount = b[column];
  return amount === null ? null : Number(amount);
}

export function sortBudgets(items: readonly Schemas["Budget"][], column: Column, direction: Direction) {
  const sign = direction === "ascending" ? 1 : -1;
  return [...items].sort((a, b) => {
    const x = value(a, column);
    const y = value(b, column);
    if (x === y) return a.department_id.localeCompare(b.department_id);
    if (x === null) return 1; // no limit sorts last either way
    if (y === null) return -1;
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return sign * order;
  });
}
