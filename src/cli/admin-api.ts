// The client side of moat's admin HTTP API (GET /api/stats, GET /api/clients), as `moat top` and
// `moat capacity check` read it. Failures come back as sentences naming the URL and the fix.

import type { ClientPage, StatsView } from '../admin/shapes.js';

/** A failed admin request, worded for the screen. */
export class AdminApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminApiError';
  }
}

export class AdminApi {
  readonly #base: URL;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  /** `base`: e.g. http://127.0.0.1:9090; throws AdminApiError on a URL that is not http(s). */
  constructor(base: string, token: string | undefined, timeoutMs = 5000) {
    let url: URL;
    try {
      url = new URL(base);
    } catch {
      throw new AdminApiError(`--admin "${base}" is not a URL; give e.g. http://127.0.0.1:9090.`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AdminApiError(`--admin "${base}" must be an http:// or https:// URL.`);
    this.#base = url;
    this.#token = token;
    this.#timeoutMs = timeoutMs;
  }

  stats(): Promise<StatsView> {
    return this.#get<StatsView>('/api/stats');
  }

  /** The busiest clients first (sort=messages). */
  clients(limit: number): Promise<ClientPage> {
    return this.#get<ClientPage>(`/api/clients?offset=0&limit=${limit}&sort=messages`);
  }

  async #get<T>(path: string): Promise<T> {
    const url = new URL(path, this.#base);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token !== undefined) headers['authorization'] = `Bearer ${this.#token}`;
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      if ((error as Error).name === 'TimeoutError') throw new AdminApiError(`admin API ${url.origin} did not answer within ${this.#timeoutMs} ms.`);
      if (cause?.code === 'ECONNREFUSED') throw new AdminApiError(`admin API ${url.origin}: connection refused. Is admin_listener set in the broker's config, on that port?`);
      throw new AdminApiError(`admin API ${url.origin}: ${cause?.message ?? (error as Error).message}.`);
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new AdminApiError(
        `admin API ${url.origin} refused the token (HTTP ${response.status}). Pass the broker's admin token with --admin-token or MOAT_ADMIN_TOKEN.`,
      );
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new AdminApiError(`admin API ${url.pathname} answered HTTP ${response.status} ${response.statusText}.`);
    }
    try {
      return (await response.json()) as T;
    } catch {
      throw new AdminApiError(`admin API ${url.pathname} did not answer with JSON. Is ${url.origin} moat's admin listener?`);
    }
  }
}
