// The platform's reasons are codes with details ("personal_data: CREDIT_CARD"); a person
// reads a sentence. Unknown codes are shown as they are.
const PLAIN: Record<string, (detail: string) => string> = {
  personal_data: (d) => `the prompt holds personal data that may never reach a model (${d})`,
  content_policy: (d) => `the prompt breaks the content policy (${d})`,
  moderation_unavailable: (d) => `the content check (${d}) could not be reached, so nothing was sent`,
  timed_out: (d) => `it made no progress in time (${d})`,
};

export function plainReason(reason: string | null | undefined): string {
  if (!reason) return "no reason was recorded";
  const [code = "", ...rest] = reason.split(": ");
  const explain = PLAIN[code];
  return explain ? explain(rest.join(": ")) : reason;
}
