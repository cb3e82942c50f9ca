// Checks of the manager's forms, as the API makes them (BudgetUpdate, WebhookRegistration).
const LIMIT = /^\d{1,12}(\.\d{1,2})?$/;

export function limitProblem(value: string): string | null {
  if (value.trim() === "") return "Enter the monthly limit in dollars.";
  if (!LIMIT.test(value.trim())) return "Use dollars and at most two decimals, e.g. 500 or 500.00.";
  return null;
}

export function slaProblem(value: string): string | null {
  if (value.trim() === "") return null;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 && n <= 100 ? null : "A percentage from 0 to 100.";
}

export function webhookUrlProblem(value: string): string | null {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:"
      ? null
      : "The address must start with https://.";
  } catch {
    return "Enter the full address, e.g. https://hooks.example.com/donatello.";
  }
}

export function regionsFrom(text: string): string[] {
  return text
    .split(",")
    .map((r) => r.trim())
    .filter(Boolean);
}
