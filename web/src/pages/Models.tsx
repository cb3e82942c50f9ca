import { Scroll } from "../components/Scroll";
import { useQuery } from "@tanstack/react-query";
import { type Schemas, getJson } from "../lib/api";
import { money } from "../lib/format";

export function ModelsPage() {
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
    </>
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
