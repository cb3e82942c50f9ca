import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { type Schemas, download, getJson } from "../lib/api";
import { dateTime, money } from "../lib/format";
import { useImage } from "../lib/image";
import { plainReason } from "../lib/reasons";
import type { Session } from "../lib/session";

const STEPS = ["requested", "screened", "routed", "generated", "charged"] as const;
const TERMINAL = new Set(["charged", "rejected", "failed"]);
const EXPLAIN: Record<string, string> = {
  requested: "Received, waiting for screening",
  screened: "Screened for personal data and policy",
  routed: "A model chosen and the cost reserved on the budget",
  generated: "The image made and stored, with Content Credentials",
  charged: "The department charged the actual cost",
};

export function GenerationPage({ id, session }: { id: string; session: Session }) {
  const generation = useQuery({
    queryKey: ["generation", id],
    queryFn: () => getJson<Schemas["GenerationView"]>(`/v1/generations/${id}`),
    refetchInterval: (query) =>
      query.state.data && TERMINAL.has(query.state.data.status) ? false : 500,
  });
  const g = generation.data;
  const mine = g?.user_id === session.user;
  const image = useImage(id, g?.status === "charged" || g?.status === "generated");
  if (generation.error) return <p role="alert">{generation.error.message}</p>;
  if (!g) return <p aria-busy="true">Loading the generation…</p>;
  const done = stepsDone(g);
  const failed = g.status === "rejected" || g.status === "failed";

  return (
    <>
      <h1>Generation</h1>
      <div className="grid">
        <section aria-labelledby="progress">
          <h2 id="progress">Progress</h2>
          <ol className="timeline" aria-live="polite">
            {STEPS.map((step) => (
              <li key={step} className={done.has(step) ? "done" : "pending"}>
                <strong>{step}</strong> <span>{EXPLAIN[step]}</span>
                {done.has(step) ? " ✓" : ""}
              </li>
            ))}
            {failed && (
              <li className="failed">
                <strong>{g.status}</strong> <span>Because {plainReason(g.reason)}.</span>
              </li>
            )}
          </ol>
          <p>
            Status: <strong data-testid="status">{g.status}</strong>
          </p>
          <Screening screening={g.screening} />
          {mine && <OwnPrompt id={id} />}
        </section>
        <section aria-labelledby="details">
          <h2 id="details">Details</h2>
          <dl>
            <dt>Model</dt>
            <dd>{g.model_id ?? "not chosen yet"}</dd>
            <dt>Cost</dt>
            <dd>
              {g.cost_aud
                ? money(g.cost_aud)
                : g.estimated_cost_aud
                  ? `estimated ${money(g.estimated_cost_aud)}`
                  : "nothing charged"}
            </dd>
            <dt>Size, quality, style</dt>
            <dd>
              {g.size}, {g.quality}, {g.style ?? "any"}
            </dd>
            <dt>Requested</dt>
            <dd>{dateTime(g.created_at)}</dd>
            <dt>Last change</dt>
            <dd>{dateTime(g.updated_at)}</dd>
          </dl>
        </section>
      </div>
      {image && (
        <figure>
          <img src={image} alt={`The generated image (${g.size})`} className="result" />
          <figcaption>
            <button
              type="button"
              className="secondary"
              onClick={() => void download(`/v1/generations/${id}/image`, `${id}.png`)}
            >
              Download PNG
            </button>
          </figcaption>
        </figure>
      )}
    </>
  );
}

/** The steps a generation has been through, read from what it records, so a rejected or
 * failed one shows how far it got. */
export function stepsDone(g: Schemas["GenerationView"]): Set<string> {
  const done = new Set<string>(["requested"]);
  const reached = STEPS.indexOf(g.status as (typeof STEPS)[number]);
  for (const step of STEPS.slice(0, reached + 1)) done.add(step);
  if (g.screening?.outcome === "passed" || g.screening?.outcome === "redacted") done.add("screened");
  if (g.model_id) done.add("routed");
  if (g.image_sha256) done.add("generated");
  if (g.cost_aud) done.add("charged");
  return done;
}

function Screening({ screening }: { screening: Schemas["Screening"] | null }) {
  if (!screening?.outcome) return null;
  if (screening.outcome === "passed") return <p>Screening: nothing personal found.</p>;
  // `entity_types` is left out of the answer when screening named none.
  const kinds = (screening.entity_types ?? []).join(", ") || "none named";
  if (screening.outcome === "redacted")
    return <p>Screening removed personal data before any model saw the prompt: {kinds}.</p>;
  return (
    <p className="error">
      Screening refused the prompt: {plainReason(screening.reason)}.
    </p>
  );
}

// Only the owner may read the prompt (the API refuses everyone else, and records the
// read), so the page asks only when it is theirs, and only when they ask.
function OwnPrompt({ id }: { id: string }) {
  const [shown, setShown] = useState(false);
  const prompt = useQuery({
    queryKey: ["prompt", id],
    queryFn: () => getJson<Schemas["GenerationPrompt"]>(`/v1/generations/${id}/prompt`),
    enabled: shown,
    gcTime: 0,
  });
  if (!shown)
    return (
      <button type="button" className="secondary outline" onClick={() => setShown(true)}>
        Show my prompt
      </button>
    );
  if (prompt.error) return <p role="alert">{prompt.error.message}</p>;
  if (!prompt.data) return <p aria-busy="true">Opening the prompt…</p>;
  return (
    <figure>
      <figcaption>Your prompt, as you typed it (nobody else can read it here)</figcaption>
      <blockquote data-testid="prompt">
        {prompt.data.prompt_erased ? "Your prompt was erased at your request." : prompt.data.prompt}
      </blockquote>
    </figure>
  );
}
