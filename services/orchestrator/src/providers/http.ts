import { Agent, fetch as undiciFetch } from "undici";

/** The fetch signature the provider SDKs take as their `fetch` option. */
export type ProviderFetch = (input: string | URL | Request, init?: RequestInit) =>
  Promise<Response>;

/** How one deployment's HTTP connections are made. */
export interface ProviderHttpOptions {
  /** Time allowed to open a TCP (and TLS) connection before the try fails. */
  connectTimeoutMs: number;
  /**
   * Rewrites a failed response before the SDK reads it (e.g. into the error JSON shape
   * the SDK understands). Successful responses pass untouched.
   */
  onErrorResponse?: (response: Response) => Promise<Response>;
}

/**
 * A fetch with its own connection pool whose connect timeout is the deployment's. Node's
 * global fetch cannot take a per-deployment connect timeout, so the SDKs get undici's fetch
 * and Agent (the same engine Node's fetch runs on) through their `fetch` option.
 */
export function createProviderFetch(options: ProviderHttpOptions): ProviderFetch {
  const agent = new Agent({
    connect: { timeout: options.connectTimeoutMs },
    keepAliveTimeout: 30_000,
    // Streams may pause for a long time between tokens; timeouts are the dispatcher's.
    bodyTimeout: 0,
    headersTimeout: 0,
  });

  return async (input, init) => {
    const url = input instanceof Request ? input.url : input;
    const response = (await undiciFetch(url, {
      ...(init as Parameters<typeof undiciFetch>[1]),
      dispatcher: agent,
    })) as unknown as Response;
    if (response.ok || !options.onErrorResponse) return response;
    return options.onErrorResponse(response);
  };
}

/** True when an error (or one of its causes) is undici's connect timeout. */
export function isConnectTimeout(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current; depth++) {
    if ((current as { code?: unknown }).code === "UND_ERR_CONNECT_TIMEOUT") return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
