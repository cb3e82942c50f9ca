// Print the built JavaScript's gzipped size and fail the build above the budget.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_BYTES = 400 * 1024;
// The build folder: dist, or the one given (the tests build elsewhere).
const assets = join(process.argv[2] ?? join(import.meta.dirname, "..", "dist"), "assets");
let total = 0;
for (const name of readdirSync(assets).filter((n) => n.endsWith(".js"))) {
  const size = gzipSync(readFileSync(join(assets, name)), { level: 9 }).length;
  total += size;
  console.log(`${name}: ${(size / 1024).toFixed(1)} KB gzipped`);
}
console.log(`console JS: ${(total / 1024).toFixed(1)} KB gzipped (budget ${BUDGET_BYTES / 1024} KB)`);
if (total > BUDGET_BYTES) {
  console.error("over the budget");
  process.exit(1);
}
