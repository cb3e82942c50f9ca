import { Scroll } from "../components/Scroll";
import { useQuery } from "@tanstack/react-query";
import { type Schemas, getJson } from "../lib/api";
import { money } from "../lib/format";

export function ModelsPage({ admin }: { admin: boolean }) {
  const catalogue = useQuery({
    queryKey: ["models"],
    queryFn: () => getJson<Schemas["ModelCatalogue"]>("/v1/models"),
  });
  if (catalogue.error) return <p role="alert">{catalogue.error.message}</p>;
  if (!catalogue.data) return <p aria-busy="true">Loading the catalogue…</p>;
  return (
    <>
      <h1>Models</h1>
      <p>Catalogue version {catalogue.data.catalogue_version}; prices in AUD per image.</p>
      <Scroll label="Model catalogue">
        <table>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Provider</th>
              <th scope="col">Standard 1024²</th>
              <th scope="col">Sizes</th>
              <th scope="col">Regions</th>
              <th scope="col">Circuit</th>
              <th scope="col">Success rate</th>
            </tr>
          </thead>
          <tbody>
            {catalogue.data.models.map((m) => (
              <Row key={m.id} model={m} />
            ))}
          </tbody>
        </table>
      </Scroll>
      {admin && <PolicyPanel />}
    </>
  );
}

// The screening policy in force, read-only (editing it is the operator's deployment).
function PolicyPanel() {
  const policy = useQuery({
    queryKey: ["screening-policy"],
    queryFn: () => getJson<Schemas["ScreeningPolicyView"]>("/v1/screening/policy"),
  });
  const p = policy.data;
  return (
    <section aria-labelledby="policy">
      <h2 id="policy">Screening policy {p && <small>version {p.version}</small>}</h2>
      {policy.error && <p role="alert">{policy.error.message}</p>}
      {p && (
        <>
          <p>
            Personal data: anything not listed is {p.default_rule.action}ed. Content categories
            blocked: {Object.entries(p.content_categories).map(([name, n]) => `${name} (${n} terms)`).join(", ") || "none"}.
            {" "}{p.public_names} public names are never redacted.
            {p.departments_with_overrides.length > 0 &&
              ` Departments with their own rules: ${p.departments_with_overrides.join(", ")}.`}
          </p>
          <Scroll label="Personal data rules">
            <table>
              <thead>
                <tr>
                  <th scope="col">Entity type</th>
                  <th scope="col">Action</th>
                  <th scope="col">Minimum score</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(p.entities).map(([name, rule]) => (
                  <tr key={name}>
                    <th scope="row">{name}</th>
                    <td>{rule.action}</td>
                    <td>{rule.min_score}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Scroll>
        </>
      )}
    </section>
  );
}

function Row({ model }: { model: Schemas["CatalogueEntry"] }) {
  return (
    <tr>
      <th scope="row">{model.display_name}</th>
      <td>{model.provider}</td>
      <td>{money(model.prices_aud["1024x1024"]?.standard)}</td>
      <td>{model.sizes.join(", ")}</td>
      <td>{model.regions.join(", ")}</td>
      <td>{model.available ? (model.circuit?.state ?? "closed") : "not enabled"}</td>
      <td>{model.circuit ? `${(Number(model.circuit.success_rate) * 100).toFixed(1)} %` : "—"}</td>
    </tr>
  );
}
