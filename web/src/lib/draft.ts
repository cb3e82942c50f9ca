// A form's draft in sessionStorage: it survives a reload and an expired sign-in.
import { useEffect, useState } from "react";

export function useDraft<T>(key: string, initial: T): [T, (next: T) => void, () => void] {
  const storageKey = `donatello.draft.${key}`;
  const [value, setValue] = useState<T>(() => {
    const stored = sessionStorage.getItem(storageKey);
    if (stored === null) return initial;
    try {
      return { ...initial, ...(JSON.parse(stored) as T) };
    } catch {
      return initial;
    }
  });
  useEffect(() => {
    sessionStorage.setItem(storageKey, JSON.stringify(value));
  }, [storageKey, value]);
  return [value, setValue, () => sessionStorage.removeItem(storageKey)];
}
