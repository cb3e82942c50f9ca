// The audit feed arrives as JSON Lines; the console offers it as that or as CSV.
export type Row = Record<string, unknown>;

export function parseNdjson(text: string): Row[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Row);
}

const FORMULA = /^[=+\-@\t\r]/;

function cell(value: unknown): string {
  let text = typeof value === "string" ? value : value === undefined || value === null ? "" : JSON.stringify(value);
  // A spreadsheet runs a cell that starts like a formula; the API's CSV does the same.
  if (FORMULA.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV (CRLF), one row per event, nested values as JSON. */
export function toCsv(rows: readonly Row[], columns: readonly string[]): string {
  const lines = [columns.join(","), ...rows.map((row) => columns.map((c) => cell(row[c])).join(","))];
  return `${lines.join("\r\n")}\r\n`;
}
