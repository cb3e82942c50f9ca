import { useMutation, useQuery } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { Choice } from "../components/Choice";
import { ApiError, type Schemas, getJson, sendJson } from "../lib/api";
import { useDraft } from "../lib/draft";
import { money } from "../lib/format";
import { navigate } from "../lib/router";
import type { Session } from "../lib/session";
import { MAX_PROMPT, priceRange, promptProblem } from "../lib/validate";

type Request = Schemas["GenerationRequest"];
type Size = Request["size"];
type Quality = Request["quality"];
const SIZES: Size[] = ["1024x1024", "1024x1792", "1792x1024"];
const QUALITIES: Quality[] = ["standard", "hd"];
const STYLES: Draft["style"][] = ["", "vivid", "natural"];
const BUDGET_READERS = ["Dept.Manager", "Org.Admin", "Platform.Admin", "Finance.Reader"];

interface Draft {
  prompt: string;
  size: Size;
  quality: Quality;
  style: "" | "vivid" | "natural";
  model: string;
}

export function GeneratePage({ session }: { session: Session }) {
  const [draft, setDraft, dropDraft] = useDraft<Draft>("generate", {
    prompt: "",
    size: "1024x1024",
    quality: "standard",
    style: "",
    model: "",
  });
  const [touched, setTouched] = useState(false);
  const ids = { prompt: useId(), promptError: useId(), price: useId() };
  const models = useQuery({
    queryKey: ["models"],
    queryFn: () => getJson<Schemas["ModelCatalogue"]>("/v1/models"),
  });
  const quota = useQuery({
    queryKey: ["quota"],
    queryFn: () => getJson<Schemas["Quota"]>("/v1/quota"),
  });
  const mayReadBudget = session.department && session.roles.some((r) => BUDGET_READERS.includes(r));
  const budget = useQuery({
    queryKey: ["budget", session.department],
    queryFn: () => getJson<Schemas["Budget"]>(`/v1/budgets/${session.department ?? ""}`),
    enabled: Boolean(mayReadBudget),
  });
  const submit = useMutation({
    mutationFn: (body: Request) =>
      sendJson<Schemas["GenerationAccepted"]>("POST", "/v1/generations", body, {
        "Idempotency-Key": crypto.randomUUID(),
      }),
    onSuccess: (accepted) => {
      dropDraft();
      navigate(`/generations/${accepted.id}`);
    },
    // Refused at the door (screening): the API recorded the generation, redacted; its
    // page says why in plain words. The draft stays, to be reworded.
    onError: (error) => {
      const recorded = error instanceof ApiError ? error.problem?.generation_id : null;
      if (recorded) navigate(`/generations/${recorded}`);
    },
  });

  const catalogue = models.data?.models ?? [];
  const fitting = catalogue.filter(
    (m) => m.available && m.sizes.includes(draft.size) && m.qualities.includes(draft.quality),
  );
  const price = priceRange(catalogue, draft.size, draft.quality, draft.model || null);
  const localProblem = touched ? promptProblem(draft.prompt) : null;
  const serverError = submit.error instanceof ApiError ? submit.error : null;
  const promptError = localProblem ?? serverError?.fieldMessage("prompt") ?? null;
  const formError = serverError && !serverError.fieldMessage("prompt") ? serverError.message : null;

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    if (promptProblem(draft.prompt)) return;
    submit.mutate({
      prompt: draft.prompt,
      size: draft.size,
      quality: draft.quality,
      style: draft.style || null,
      model: draft.model || null,
      callback_url: null,
    });
  }

  return (
    <>
      <h1>Generate an image</h1>
      <form onSubmit={onSubmit} noValidate>
        <label htmlFor={ids.prompt}>Prompt</label>
        <textarea
          id={ids.prompt}
          name="prompt"
          rows={4}
          maxLength={MAX_PROMPT}
          value={draft.prompt}
          aria-invalid={promptError ? true : undefined}
          aria-describedby={promptError ? ids.promptError : undefined}
          onChange={(e) => setDraft({ ...draft, prompt: e.target.value })}
          onBlur={() => setTouched(true)}
        />
        {promptError && (
          <small id={ids.promptError} className="error">
            {promptError}
          </small>
        )}
        <div className="grid">
          <Choice label="Size" value={draft.size} options={SIZES} onChange={(size) => setDraft({ ...draft, size })} />
          <Choice
            label="Quality"
            value={draft.quality}
            options={QUALITIES}
            onChange={(quality) => setDraft({ ...draft, quality })}
          />
          <Choice
            label="Style"
            value={draft.style}
            options={STYLES}
            names={{ "": "any" }}
            onChange={(style) => setDraft({ ...draft, style })}
          />
          <label>
            Model
            <select
              value={draft.model}
              onChange={(e) => setDraft({ ...draft, model: e.target.value })}
            >
              <option value="">chosen by routing</option>
              {fitting.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.display_name}
                </option>
              ))}
            </select>
          </label>
        </div>
        <article id={ids.price} aria-live="polite" className="price">
          <PriceLine price={price} />
          <QuotaLine quota={quota.data} />
          <BudgetLine
            budget={budget.data}
            high={price?.high ?? null}
            readable={Boolean(mayReadBudget)}
          />
        </article>
        {formError && (
          <p role="alert" className="error">
            {formError}
          </p>
        )}
        <button type="submit" aria-busy={submit.isPending} disabled={submit.isPending}>
          Generate
        </button>
      </form>
    </>
  );
}

function PriceLine({ price }: { price: { low: string; high: string } | null }) {
  if (!price) return <p>No available model makes this size and quality.</p>;
  return (
    <p>
      Price: <strong>{price.low === price.high ? money(price.low) : `${money(price.low)} to ${money(price.high)}`}</strong>
      {price.low !== price.high && " (routing picks the model)"}
    </p>
  );
}

function QuotaLine({ quota }: { quota: Schemas["Quota"] | undefined }) {
  if (!quota) return null;
  if (quota.limit === null) return <p>Daily quota: unlimited for your role.</p>;
  const covered = (quota.remaining ?? 0) > 0;
  return (
    <p>
      Daily quota: {quota.remaining} of {quota.limit} images left today{" "}
      {covered ? "— covered." : "— none left until Sydney midnight."}
    </p>
  );
}

function BudgetLine(props: {
  budget: Schemas["Budget"] | undefined;
  high: string | null;
  readable: boolean;
}) {
  if (!props.readable) return <p>The department's budget is checked when you submit.</p>;
  const { budget, high } = props;
  if (!budget) return null;
  if (budget.remaining_aud === null) return <p>The department has no budget limit this month.</p>;
  const covered = high !== null && Number(budget.remaining_aud) >= Number(high);
  return (
    <p>
      Department budget: {money(budget.remaining_aud)} remaining this month{" "}
      {covered ? "— covered." : "— may not cover it."}
    </p>
  );
}
