import { Scroll } from "../components/Scroll";
import { useMutation, useQuery } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Field } from "../components/Field";
import { ApiError, type Schemas, download, getJson, saveBlob, sendJson } from "../lib/api";
import { dateTime, sydneyInstant } from "../lib/format";
import { wholeFeed } from "../lib/feed";
import { parseNdjson, toCsv } from "../lib/ndjson";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CSV_COLUMNS = ["recorded_at", "stream_id", "version", "type", "event_id", "correlation_id",
  "actor", "data", "prev_hash", "hash"];

export function AuditPage() {
  return (
    <>
      <h1>Audit trail</h1>
      <Verify />
      <StreamBrowser />
      <Export />
      <Subjects />
    </>
  );
}

function Verify() {
  const verify = useMutation({
    mutationFn: () => sendJson<Schemas["AuditReport"]>("POST", "/v1/audit/verify", {}),
  });
  const report = verify.data;
  return (
    <section aria-labelledby="verify">
      <h2 id="verify">Verify the log</h2>
      <button type="button" aria-busy={verify.isPending} onClick={() => verify.mutate()}>
        Run audit verify
      </button>
      {verify.error && <p role="alert">{verify.error.message}</p>}
      {report && (
        <div role="status" data-testid="verify-report">
          {report.ok ? (
            <p className="ok">
              The log is intact: {report.events} events in {report.streams} streams checked,
              {report.seals ? ` up to seal ${report.seals}` : " no seal written yet"}
              {report.complete ? "." : " (the check stopped at its limit)."}
            </p>
          ) : (
            <>
              <p className="error">The log has been tampered with: {report.problems.length}{" "}
                {report.problems.length === 1 ? "problem" : "problems"}.</p>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Stream</th>
                    <th scope="col">Version</th>
                    <th scope="col">Kind</th>
                    <th scope="col">Detail</th>
                  </tr>
                </thead>
                <tbody>
                  {report.problems.map((p) => (
                    <tr key={`${p.stream_id}/${p.version}/${p.kind}`}>
                      <td>{p.stream_id}</td>
                      <td>{p.version}</td>
                      <td>{p.kind}</td>
                      <td>{p.detail}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </div>
      )}
    </section>
  );
}

function StreamBrowser() {
  const [lookup, setLookup] = useState("");
  const [stream, setStream] = useState<string | null>(null);
  const events = useQuery({
    queryKey: ["stream", stream],
    queryFn: () => getJson<Schemas["AuditStream"]>(`/v1/audit/streams/${encodeURIComponent(stream ?? "")}`),
    enabled: stream !== null,
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    const id = lookup.trim();
    setStream(UUID.test(id) ? `generation-${id.toLowerCase()}` : id);
  }
  const notFound = events.error instanceof ApiError && events.error.status === 404;
  return (
    <section aria-labelledby="streams">
      <h2 id="streams">Browse a stream</h2>
      <form onSubmit={submit}>
        <Field label="Generation id or stream id" error={notFound ? `No stream ${stream}.` : events.error?.message}>
          {({ id, describedBy }) => (
            <input id={id} value={lookup} aria-describedby={describedBy} onChange={(e) => setLookup(e.target.value)} />
          )}
        </Field>
        <button type="submit">Show events</button>
      </form>
      {events.data && (
        <details open>
          <summary>The stream in plain words</summary>
          <ol className="story" data-testid="story">
            {events.data.story.map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ol>
        </details>
      )}
      {events.data && (
        <Scroll label="Events of the stream">
          <table className="events">
            <caption>
              {events.data.stream_id}: {events.data.events.length} events
            </caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Type</th>
                <th scope="col">Recorded</th>
                <th scope="col">Actor</th>
                <th scope="col">Hash</th>
                <th scope="col">Previous hash</th>
              </tr>
            </thead>
            <tbody>
              {events.data.events.map((e) => (
                <tr key={e.event_id}>
                  <td>{e.version}</td>
                  <td>{e.type}</td>
                  <td className="nowrap">{dateTime(e.recorded_at)}</td>
                  <td>{e.actor.user_id}</td>
                  <td>
                    <code>{e.hash.slice(0, 16)}…</code>
                  </td>
                  <td>
                    <code>{e.prev_hash.slice(0, 16)}…</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
    </section>
  );
}

function Export() {
  const [filters, setFilters] = useState({ type: "", user_id: "", department_id: "", from: "", to: "" });
  const [format, setFormat] = useState<"jsonl" | "csv">("jsonl");
  const exporting = useMutation({
    mutationFn: async () => {
      const asked = { ...filters, from: filters.from && sydneyInstant(filters.from), to: filters.to && sydneyInstant(filters.to) };
      const { text } = await wholeFeed(asked);
      const body = format === "csv" ? toCsv(parseNdjson(text), CSV_COLUMNS) : text;
      const type = format === "csv" ? "text/csv" : "application/x-ndjson";
      saveBlob(new Blob([body], { type }), `audit-events.${format}`);
      return parseNdjson(text).length;
    },
  });
  const set = (key: keyof typeof filters) => (e: { target: { value: string } }) =>
    setFilters({ ...filters, [key]: e.target.value });
  return (
    <section aria-labelledby="export">
      <h2 id="export">Export the feed</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          exporting.mutate();
        }}
      >
        <div className="grid">
          <label>
            Event type
            <input value={filters.type} placeholder="e.g. AuditLogRead" onChange={set("type")} />
          </label>
          <label>
            User
            <input value={filters.user_id} onChange={set("user_id")} />
          </label>
          <label>
            Department
            <input value={filters.department_id} onChange={set("department_id")} />
          </label>
        </div>
        <div className="grid">
          <label>
            From (Sydney time)
            <input type="datetime-local" value={filters.from} onChange={set("from")} />
          </label>
          <label>
            To (Sydney time)
            <input type="datetime-local" value={filters.to} onChange={set("to")} />
          </label>
          <label>
            Format
            <select value={format} onChange={(e) => setFormat(e.target.value as "jsonl" | "csv")}>
              <option value="jsonl">JSON Lines</option>
              <option value="csv">CSV</option>
            </select>
          </label>
        </div>
        {exporting.error && <p role="alert">{exporting.error.message}</p>}
        {exporting.isSuccess && <p role="status">Exported {exporting.data} events.</p>}
        <button type="submit" aria-busy={exporting.isPending}>
          Export events
        </button>
        <p>
          <small>
            Who read what: set the type to <code>AuditLogRead</code>. The export holds every event
            the filters match, however many pages the feed takes.
          </small>
        </p>
      </form>
    </section>
  );
}

function Subjects() {
  const [subject, setSubject] = useState("");
  const [confirm, setConfirm] = useState("");
  const access = useMutation({
    mutationFn: () =>
      download(`/v1/privacy/subjects/${encodeURIComponent(subject)}/export`, `subject-${subject}.json`),
  });
  const erase = useMutation({
    mutationFn: () =>
      sendJson<Schemas["Erasure"]>("POST", `/v1/privacy/subjects/${encodeURIComponent(subject)}/erase`, {
        reason: "requested in the console",
      }),
  });
  const confirmed = subject !== "" && confirm === subject;
  return (
    <section aria-labelledby="subjects">
      <h2 id="subjects">Subject access and erasure</h2>
      <label>
        Person (user id)
        <input value={subject} onChange={(e) => setSubject(e.target.value.trim())} />
      </label>
      <button type="button" className="secondary" disabled={!subject} onClick={() => access.mutate()}>
        Download everything held about them
      </button>
      {access.error && <p role="alert">{access.error.message}</p>}
      <fieldset>
        <legend>Erase (destroys their key: their prompts can never be read again)</legend>
        <label>
          Type the user id again to confirm
          <input value={confirm} onChange={(e) => setConfirm(e.target.value.trim())} />
        </label>
        <button type="button" className="contrast" disabled={!confirmed} onClick={() => erase.mutate()}>
          Erase {subject || "…"}
        </button>
      </fieldset>
      {erase.error && <p role="alert">{erase.error.message}</p>}
      {erase.data && (
        <p role="status">
          {erase.data.recorded ? "Erased" : "Already erased"} at {dateTime(erase.data.erased_at)}.
        </p>
      )}
    </section>
  );
}
