import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  LinearScale,
  Tooltip,
} from "chart.js";
import { useEffect, useRef } from "react";
import { money } from "../lib/format";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

// A bar chart of amounts (Chart.js on a canvas), with the same figures in a table for
// screen readers and keyboard users: the canvas itself is hidden from them.
export function BarChart(props: { title: string; rows: [string, string][]; keyLabel: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const { rows } = props;
  useEffect(() => {
    if (!canvas.current) return undefined;
    const chart = new Chart(canvas.current, {
      type: "bar",
      data: {
        labels: rows.map(([key]) => key),
        datasets: [{ label: "AUD", data: rows.map(([, v]) => Number(v)), backgroundColor: "#0172ad" }],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { tooltip: { callbacks: { label: (item) => money(String(item.raw)) } } },
        scales: { y: { beginAtZero: true } },
      },
    });
    return () => chart.destroy();
  }, [rows]);
  return (
    <figure>
      <figcaption>{props.title}</figcaption>
      <div className="chart">
        <canvas ref={canvas} aria-hidden="true" />
      </div>
      <details>
        <summary>{props.title} as a table</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">{props.keyLabel}</th>
              <th scope="col">Spent</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([key, value]) => (
              <tr key={key}>
                <th scope="row">{key}</th>
                <td>{money(value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
