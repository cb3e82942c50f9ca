import type { ReactNode } from "react";

// A wide table's horizontal scroller, reachable by keyboard (axe: scrollable-region-focusable).
export function Scroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="overflow-auto" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
