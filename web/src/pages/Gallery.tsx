import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Choice } from "../components/Choice";
import { type Schemas, getJson } from "../lib/api";
import { dateTime, money, nextDay, sydneyMidnight } from "../lib/format";
import { useImage } from "../lib/image";
import { navigate } from "../lib/router";
import type { Session } from "../lib/session";

const PAGE_SIZE = 12;
const STATUSES = ["", "charged", "rejected", "failed", "requested", "routed"] as const;

export function GalleryPage({ session }: { session: Session }) {
  const [status, setStatus] = useState<(typeof STATUSES)[number]>("");
  // Sydney calendar days, as the budgets count them; empty for no bound.
  const [days, setDays] = useState({ from: "", to: "" });
  // The continuation tokens of the pages before this one, so Previous can go back.
  const [pages, setPages] = useState<(string | null)[]>([null]);
  const continuation = pages[pages.length - 1] ?? null;
  const mine = !session.roles.includes("Dept.Manager");
  const history = useQuery({
    queryKey: ["history", status, days, continuation],
    queryFn: () => {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (status) query.set("status", status);
      if (days.from) query.set("from", sydneyMidnight(days.from));
      if (days.to) query.set("to", sydneyMidnight(nextDay(days.to)));
      if (continuation) query.set("continuation", continuation);
      return getJson<Schemas["GenerationHistory"]>(`/v1/generations?${query}`);
    },
    placeholderData: keepPreviousData,
  });
  const items = history.data?.items ?? [];
  return (
    <>
      <h1>{mine ? "My generations" : "The department's generations"}</h1>
      <Choice
        label="Status"
        value={status}
        options={STATUSES}
        names={{ "": "all" }}
        onChange={(next) => {
          setStatus(next);
          setPages([null]);
        }}
      />
      <div className="grid">
        <label>
          From (Sydney day)
          <input
            type="date"
            value={days.from}
            onChange={(e) => {
              setDays({ ...days, from: e.target.value });
              setPages([null]);
            }}
          />
        </label>
        <label>
          To (Sydney day, included)
          <input
            type="date"
            value={days.to}
            onChange={(e) => {
              setDays({ ...days, to: e.target.value });
              setPages([null]);
            }}
          />
        </label>
      </div>
      {history.error && <p role="alert">{history.error.message}</p>}
      {history.data && items.length === 0 && <p>Nothing here yet.</p>}
      <ul className="gallery">
        {items.map((item) => (
          <Tile key={item.id} item={item} />
        ))}
      </ul>
      <nav aria-label="Pages" className="pager">
        <button
          type="button"
          className="secondary"
          disabled={pages.length === 1}
          onClick={() => setPages(pages.slice(0, -1))}
        >
          Previous
        </button>
        <span>Page {pages.length}</span>
        <button
          type="button"
          className="secondary"
          disabled={!history.data?.continuation}
          onClick={() => setPages([...pages, history.data?.continuation ?? null])}
        >
          Next
        </button>
      </nav>
    </>
  );
}

function Tile({ item }: { item: Schemas["HistoryItem"] }) {
  const image = useImage(item.id, item.status === "charged");
  const open = () => navigate(`/generations/${item.id}`);
  return (
    <li>
      <a
        href={`/generations/${item.id}`}
        onClick={(e) => {
          e.preventDefault();
          open();
        }}
      >
        {image ? (
          <img src={image} alt={`Generation of ${dateTime(item.created_at)}`} />
        ) : (
          <span className="placeholder">{item.status}</span>
        )}
        <span>
          {dateTime(item.created_at)} · {item.model_id ?? "no model"} · {money(item.cost_aud)}
        </span>
      </a>
    </li>
  );
}
