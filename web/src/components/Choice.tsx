// A labelled <select> over a fixed list of values, each shown as itself unless named.
export function Choice<T extends string>(props: {
  label: string;
  value: T;
  options: readonly T[];
  names?: Partial<Record<T, string>>;
  onChange: (value: T) => void;
}) {
  return (
    <label>
      {props.label}
      <select value={props.value} onChange={(e) => props.onChange(e.target.value as T)}>
        {props.options.map((option) => (
          <option key={option} value={option}>
            {props.names?.[option] ?? option}
          </option>
        ))}
      </select>
    </label>
  );
}
