// Images need the bearer token, which an <img src> cannot send: fetch them as blobs. The
// cache holds the blob; each shown image gets its own object URL, freed when it goes.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { request } from "./api";

export function useImage(id: string, enabled: boolean): string | undefined {
  const image = useQuery({
    queryKey: ["image", id],
    queryFn: async () => (await request(`/v1/generations/${id}/image`)).blob(),
    enabled,
    staleTime: Number.POSITIVE_INFINITY,
    gcTime: 5 * 60_000,
  });
  const [url, setUrl] = useState<string>();
  const blob = image.data;
  useEffect(() => {
    if (!blob) return undefined;
    const objectUrl = URL.createObjectURL(blob);
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [blob]);
  return blob ? url : undefined;
}
