/** What the caller allows the response cache to do for one request. */
export interface CacheDirectives {
  /** An answer may come from the cache. */
  read: boolean;
  /** The answer may be stored. */
  write: boolean;
  /** Oldest cached answer the caller accepts (from max-age), in milliseconds. */
  maxAgeMs?: number | undefined;
  /** The caller asked for caching although the request is not deterministic. */
  force: boolean;
}

/**
 * Reads the request's `cache-control` and `x-mesh-cache` headers:
 * - `no-store`: neither read nor write (also `x-mesh-cache: off`);
 * - `no-cache`: do not serve from the cache, but store the fresh answer;
 * - `max-age=N`: serve a cached answer only if it is at most N seconds old;
 * - `x-mesh-cache: on`: cache this request even with a temperature above 0.
 */
export function cacheDirectives(header: (name: string) => string | undefined): CacheDirectives {
  const directives: CacheDirectives = { read: true, write: true, force: false };
  const meshCache = header("x-mesh-cache")?.trim().toLowerCase();
  if (meshCache === "off") return { read: false, write: false, force: false };
  if (meshCache === "on") directives.force = true;

  for (const part of (header("cache-control") ?? "").split(",")) {
    const [name = "", value] = part.trim().toLowerCase().split("=", 2);
    if (name === "no-store") {
      directives.read = false;
      directives.write = false;
    } else if (name === "no-cache") {
      directives.read = false;
    } else if (name === "max-age" && value !== undefined && /^\d+$/.test(value.trim())) {
      directives.maxAgeMs = Number(value.trim()) * 1000;
    }
  }
  return directives;
}
