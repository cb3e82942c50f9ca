import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Choice } from "../components/Choice";
import { Field } from "../components/Field";
import { Glance } from "../components/Glance";
import { ApiError, type Schemas, getJson, sendJson } from "../lib/api";
import { useDraft } from "../lib/draft";
import { limitProblem, regionsFrom, slaProblem, webhookUrlProblem } from "../lib/forms";
import type { Session } from "../lib/session";

type Update = Schemas["BudgetUpdate"];
const ENFORCEMENTS: Update["enforcement"][] = ["hard", "soft", "warn"];
const STRATEGIES: Update["strategy"][] = ["balanced", "cost_optimised", "quality_focused"];
const KINDS: Schemas["Kind"][] = ["budget.threshold_crossed", "generation.completed"];

export function BudgetPage({ session }: { session: Session }) {
  const admin = session.roles.some((r) => r === "Org.Admin" || r === "Platform.Admin");
  const [department, setDepartment] = useState(session.department ?? "");
  // The budget view is a projection: it shows a saved limit a moment after the PUT
  // answers, so the page polls until it does.
  const [saved, setSaved] = useState<string | null>(null);
  const budget = useQuery({
    queryKey: ["budget", department],
    queryFn: () => getJson<Schemas["Budget"]>(`/v1/budgets/${encodeURIComponent(department)}`),
    enabled: department !== "",
    refetchInterval: (query) =>
      saved !== null && Number(query.state.data?.limit_aud) !== Number(saved) ? 250 : false,
  });
  return (
    <>
      <h1>Budget of {department || "…"}</h1>
      {admin && (
        <label>
          Department
          <input value={department} onChange={(e) => setDepartment(e.target.value.trim())} />
        </label>
      )}
      {budget.error && <p role="alert">{budget.error.message}</p>}
      {budget.data && <Glance budget={budget.data} />}
      {department && !budget.isPending && (
        <BudgetForm
          key={department}
          department={department}
          current={budget.data}
          onSaved={setSaved}
        />
      )}
      {department && <WebhookPanel department={department} />}
    </>
  );
}

interface BudgetDraft {
  limit: string;
  enforcement: Update["enforcement"];
  strategy: Update["strategy"];
  commercial: boolean;
  regions: string;
  sla: string;
}

function BudgetForm(props: {
  department: string;
  current: Schemas["Budget"] | undefined;
  onSaved: (limit: string) => void;
}) {
  const { department, current } = props;
  const queries = useQueryClient();
  const [draft, setDraft, dropDraft] = useDraft<BudgetDraft>(`budget.${department}`, {
    limit: current?.limit_aud ?? "",
    enforcement: current?.enforcement ?? "hard",
    strategy: current?.strategy ?? "balanced",
    commercial: true,
    regions: "",
    sla: "",
  });
  const [touched, setTouched] = useState(false);
  const save = useMutation({
    mutationFn: (body: Update) =>
      sendJson<Schemas["BudgetSetAnswer"]>("PUT", `/v1/budgets/${encodeURIComponent(department)}`, body),
    onSuccess: (answer) => {
      dropDraft();
      setTouched(false);
      props.onSaved(answer.monthly_limit_aud);
      void queries.invalidateQueries({ queryKey: ["budget", department] });
    },
  });
  const server = save.error instanceof ApiError ? save.error : null;
  const errors = {
    limit: (touched ? limitProblem(draft.limit) : null) ?? server?.fieldMessage("monthly_limit_aud"),
    sla: (touched ? slaProblem(draft.sla) : null) ?? server?.fieldMessage("min_sla_percent"),
  };
  function submit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    if (limitProblem(draft.limit) || slaProblem(draft.sla)) return;
    save.mutate({
      monthly_limit_aud: draft.limit.trim(),
      enforcement: draft.enforcement,
      strategy: draft.strategy,
      requirements: {
        commercial_use: draft.commercial,
        regions: regionsFrom(draft.regions),
        min_sla_percent: draft.sla.trim() === "" ? null : draft.sla.trim(),
      },
    });
  }
  return (
    <section aria-labelledby="set-budget">
      <h2 id="set-budget">Set the monthly budget</h2>
      <form onSubmit={submit} noValidate>
        <div className="grid">
          <Field label="Monthly limit (AUD)" error={errors.limit}>
            {({ id, describedBy }) => (
              <input
                id={id}
                inputMode="decimal"
                value={draft.limit}
                aria-invalid={errors.limit ? true : undefined}
                aria-describedby={describedBy}
                onChange={(e) => setDraft({ ...draft, limit: e.target.value })}
              />
            )}
          </Field>
          <Choice
            label="Enforcement"
            value={draft.enforcement}
            options={ENFORCEMENTS}
            onChange={(enforcement) => setDraft({ ...draft, enforcement })}
          />
          <Choice
            label="Strategy"
            value={draft.strategy}
            options={STRATEGIES}
            onChange={(strategy) => setDraft({ ...draft, strategy })}
          />
        </div>
        <fieldset>
          <legend>Requirements every model must meet</legend>
          <label>
            <input
              type="checkbox"
              checked={draft.commercial}
              onChange={(e) => setDraft({ ...draft, commercial: e.target.checked })}
            />
            Licensed for commercial use
          </label>
          <div className="grid">
            <label>
              Regions (comma-separated, empty for any)
              <input value={draft.regions} onChange={(e) => setDraft({ ...draft, regions: e.target.value })} />
            </label>
            <Field label="Minimum SLA (%)" error={errors.sla}>
              {({ id, describedBy }) => (
                <input
                  id={id}
                  inputMode="decimal"
                  value={draft.sla}
                  aria-invalid={errors.sla ? true : undefined}
                  aria-describedby={describedBy}
                  onChange={(e) => setDraft({ ...draft, sla: e.target.value })}
                />
              )}
            </Field>
          </div>
        </fieldset>
        {server && !errors.limit && !errors.sla && (
          <p role="alert" className="error">
            {server.message}
          </p>
        )}
        {save.isSuccess && <p role="status">Saved.</p>}
        <button type="submit" aria-busy={save.isPending} disabled={save.isPending}>
          Save budget
        </button>
      </form>
    </section>
  );
}

function WebhookPanel({ department }: { department: string }) {
  const queries = useQueryClient();
  const path = `/v1/webhooks/${encodeURIComponent(department)}`;
  const hook = useQuery({
    queryKey: ["webhook", department],
    queryFn: async () => {
      try {
        return await getJson<Schemas["Webhook"]>(path);
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }
    },
  });
  const [url, setUrl] = useState("");
  const [kinds, setKinds] = useState<Schemas["Kind"][]>(["budget.threshold_crossed"]);
  const [touched, setTouched] = useState(false);
  const register = useMutation({
    mutationFn: () => sendJson<Schemas["WebhookWithSecret"]>("PUT", path, { url, events: kinds }),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["webhook", department] }),
  });
  const remove = useMutation({
    mutationFn: () => sendJson<null>("DELETE", path, undefined),
    onSuccess: () => {
      register.reset();
      void queries.invalidateQueries({ queryKey: ["webhook", department] });
    },
  });
  const server = register.error instanceof ApiError ? register.error : null;
  const urlError = (touched ? webhookUrlProblem(url) : null) ?? server?.fieldMessage("url") ?? server?.message;
  const secret = register.data?.secret;
  return (
    <section aria-labelledby="webhook">
      <h2 id="webhook">Webhook</h2>
      {hook.data ? (
        <p>
          Notifications go to <code>{hook.data.url}</code> ({hook.data.events.join(", ")}).{" "}
          <button type="button" className="secondary outline" onClick={() => remove.mutate()}>
            Remove webhook
          </button>
        </p>
      ) : (
        hook.data === null && <p>No webhook is registered.</p>
      )}
      {secret && (
        <article role="status" className="notice">
          <p>
            The signing secret, shown this once: <code data-testid="secret">{secret}</code>
          </p>
          <button type="button" className="secondary" onClick={() => void navigator.clipboard.writeText(secret)}>
            Copy secret
          </button>
        </article>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setTouched(true);
          if (!webhookUrlProblem(url)) register.mutate();
        }}
        noValidate
      >
        <Field label="Webhook URL" error={urlError}>
          {({ id, describedBy }) => (
            <input
              id={id}
              type="url"
              value={url}
              aria-invalid={urlError ? true : undefined}
              aria-describedby={describedBy}
              onChange={(e) => setUrl(e.target.value)}
            />
          )}
        </Field>
        <fieldset>
          <legend>Events</legend>
          {KINDS.map((kind) => (
            <label key={kind}>
              <input
                type="checkbox"
                checked={kinds.includes(kind)}
                onChange={(e) => setKinds(e.target.checked ? [...kinds, kind] : kinds.filter((k) => k !== kind))}
              />
              {kind}
            </label>
          ))}
        </fieldset>
        <button type="submit" aria-busy={register.isPending} disabled={register.isPending || kinds.length === 0}>
          Register webhook
        </button>
      </form>
    </section>
  );
}
