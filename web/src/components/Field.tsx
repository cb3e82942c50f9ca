import { type ReactNode, useId } from "react";

// A labelled control with its error underneath, tied together for screen readers.
export function Field(props: {
  label: string;
  error: string | null | undefined;
  children: (ids: { id: string; describedBy: string | undefined }) => ReactNode;
}) {
  const id = useId();
  const errorId = `${id}-error`;
  return (
    <label htmlFor={id}>
      {props.label}
      {props.children({ id, describedBy: props.error ? errorId : undefined })}
      {props.error && (
        <small id={errorId} className="error">
          {props.error}
        </small>
      )}
    </label>
  );
}
