// The generate form's checks, the same the API makes (GenerationRequest in openapi.json),
// so a person hears about a bad prompt before a round trip.
import type { Schemas } from "./api";

export const MAX_PROMPT = 4000;
// Control characters other than tab and newline, which the API refuses.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;

export function promptProblem(prompt: string): string | null {
  if (prompt.trim() === "") return "Write what the image should show.";
  if (prompt.length > MAX_PROMPT)
    return `The prompt is ${prompt.length} characters; the limit is ${MAX_PROMPT}.`;
  if (CONTROL.test(prompt)) return "The prompt holds a control character; remove it.";
  return null;
}

type Entry = Schemas["CatalogueEntry"];
type Size = Schemas["GenerationRequest"]["size"];
type Quality = Schemas["GenerationRequest"]["quality"];

/** What a choice costs: one model's price, or the range over the models routing may pick. */
export function priceRange(
  models: readonly Entry[],
  size: Size,
  quality: Quality,
  model: string | null,
): { low: string; high: string } | null {
  const fitting = models.filter(
    (m) =>
      m.available &&
      (model === null || m.id === model) &&
      m.sizes.includes(size) &&
      m.qualities.includes(quality),
  );
  const prices = fitting
    .map((m) => m.prices_aud[size]?.[quality]) // keyed by size, then quality
    .filter((p): p is string => p !== undefined)
    .sort((a, b) => Number(a) - Number(b));
  const low = prices[0];
  const high = prices[prices.length - 1];
  return low !== undefined && high !== undefined ? { low, high } : null;
}
