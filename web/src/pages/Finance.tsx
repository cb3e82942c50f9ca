import { Scroll } from "../components/Scroll";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { BarChart } from "../components/BarChart";
import { Glance } from "../components/Glance";
import { type Schemas, download, getJson } from "../lib/api";
import { day, money, sydneyInstant, sydneyMonth } from "../lib/format";
import { type Column, type Direction, sortBudgets, usedShare } from "../lib/sort";

const COLUMNS: [Column, string][] = [
  ["department_id", "Department"],
  ["limit_aud", "Limit"],
  ["spent_aud", "Spent"],
  ["remaining_aud", "Remaining"],
  ["forecast_aud", "Forecast"],
  ["used", "Spent of limit"],
];

export function FinancePage() {
  const [period, setPeriod] = useState(sydneyMonth());
  const [sort, setSort] = useState<{ column: Column; direction: Direction }>({
    column: "spent_aud",
    direction: "descending",
  });
  const [chosen, setChosen] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ["budgets", period],
    queryFn: () => getJson<Schemas["BudgetList"]>(`/v1/budgets?period=${period}`),
  });
  const rows = useMemo(
    () => sortBudgets(list.data?.items ?? [], sort.column, sort.direction),
    [list.data, sort],
  );
  const flip = (column: Column) =>
    setSort((s) => ({
      column,
      direction: s.column === column && s.direction === "descending" ? "ascending" : "descending",
    }));
  return (
    <>
      <h1>Spend by department</h1>
      <div className="grid">
        <label>
          Month
          <input type="month" value={period} onChange={(e) => e.target.value && setPeriod(e.target.value)} />
        </label>
        <div className="actions">
          <button
            type="button"
            className="secondary"
            onClick={() => void download(`/v1/budgets?period=${period}&format=csv`, `budgets-${period}.csv`)}
          >
            Download CSV
          </button>
        </div>
      </div>
      {list.error && <p role="alert">{list.error.message}</p>}
      <Scroll label="Departments">
        <table className="finance">
          <caption>
            {rows.length} {rows.length === 1 ? "department" : "departments"} in {period}
          </caption>
          <thead>
            <tr>
              {COLUMNS.map(([column, label]) => (
                <th
                  key={column}
                  scope="col"
                  aria-sort={sort.column === column ? sort.direction : undefined}
                >
                  <button type="button" className="sort" onClick={() => flip(column)}>
                    {label}
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((b) => {
              const share = usedShare(b);
              return (
                <tr key={b.department_id}>
                  <th scope="row">
                    <button type="button" className="link" onClick={() => setChosen(b.department_id)}>
                      {b.department_id}
                    </button>
                  </th>
                  <td>{b.limit_aud === null ? "none" : money(b.limit_aud)}</td>
                  <td>{money(b.spent_aud)}</td>
                  <td>{money(b.remaining_aud)}</td>
                  <td className={b.forecast_over_limit ? "error" : undefined}>{money(b.forecast_aud)}</td>
                  <td>{share === null ? "—" : `${(share * 100).toFixed(1)} %`}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </Scroll>
      {chosen && <Department department={chosen} period={period} />}
    </>
  );
}

function Department({ department, period }: { department: string; period: string }) {
  const [asOf, setAsOf] = useState("");
  const instant = asOf ? sydneyInstant(asOf) : null;
  const base = `/v1/budgets/${encodeURIComponent(department)}?period=${period}`;
  const budget = useQuery({
    queryKey: ["budget", department, period, instant],
    queryFn: () =>
      getJson<Schemas["Budget"]>(instant ? `${base}&as_of=${encodeURIComponent(instant)}` : base),
  });
  const b = budget.data;
  const byDay = useMemo(
    () => Object.entries(b?.by_day ?? {}).sort().map(([k, v]) => [day(k), v] as [string, string]),
    [b],
  );
  const byModel = useMemo(() => Object.entries(b?.by_model ?? {}), [b]);
  const byUser = useMemo(() => Object.entries(b?.by_user ?? {}), [b]);
  return (
    <section aria-labelledby="department">
      <h2 id="department">
        {department} in {period}
      </h2>
      <div className="grid">
        <label>
          As it stood at (Sydney time; empty for now)
          <input type="datetime-local" value={asOf} onChange={(e) => setAsOf(e.target.value)} />
        </label>
        <div className="actions">
          <button
            type="button"
            className="secondary"
            onClick={() => void download(`${base}&format=csv`, `budget-${department}-${period}.csv`)}
          >
            Download department CSV
          </button>
        </div>
      </div>
      {budget.error && <p role="alert">{budget.error.message}</p>}
      {b && (
        <>
          <Glance budget={b} />
          <div className="grid">
            <BarChart title="Spend by day" keyLabel="Day" rows={byDay} />
            <BarChart title="Spend by model" keyLabel="Model" rows={byModel} />
            <BarChart title="Spend by user" keyLabel="User" rows={byUser} />
          </div>
        </>
      )}
    </section>
  );
}
