import type { Schemas } from "../lib/api";
import { money } from "../lib/format";

// One department's month at a glance: what the manager and finance both look at first.
export function Glance({ budget }: { budget: Schemas["Budget"] }) {
  const limit = budget.limit_aud === null ? null : Number(budget.limit_aud);
  const used = Number(budget.spent_aud) + Number(budget.reserved_aud);
  return (
    <article aria-label={`${budget.department_id} in ${budget.period}`}>
      <div className="glance">
        <Figure label="Limit" value={budget.limit_aud === null ? "none set" : money(budget.limit_aud)} />
        <Figure label="Spent" value={money(budget.spent_aud)} />
        <Figure label="Reserved" value={money(budget.reserved_aud)} />
        <Figure label="Remaining" value={money(budget.remaining_aud)} />
        <Figure label="Forecast" value={money(budget.forecast_aud)} />
      </div>
      {limit !== null && limit > 0 && (
        <label>
          Spent and reserved against the limit
          <progress value={Math.min(used, limit)} max={limit} />
        </label>
      )}
      <p>
        {budget.thresholds_crossed.length
          ? `Thresholds crossed: ${budget.thresholds_crossed.map((t) => `${t} %`).join(", ")}.`
          : "No threshold crossed this month."}{" "}
        {budget.forecast_over_limit ? "The forecast is over the limit." : ""}
        {budget.enforcement && ` Enforcement ${budget.enforcement}, strategy ${budget.strategy}.`}
      </p>
    </article>
  );
}

function Figure({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <small>{label}</small>
      <strong>{value}</strong>
    </div>
  );
}
