// offset/limit (and sort) of the admin API's lists: checked, with a sentence for a 400 answer.

/** Most entries one page holds. */
export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;

export interface Page {
  readonly offset: number;
  readonly limit: number;
}

export class BadRequest extends Error {}

/** A whole number in [min, max] from a query parameter, or the default when it is absent. */
function whole(params: URLSearchParams, name: string, min: number, max: number, fallback: number): number {
  const text = params.get(name);
  if (text === null) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new BadRequest(`${name} must be a whole number ${min}-${max}, got "${text}"`);
  return Number(text);
}

/** The page a list request asks for; `allowed` names every query parameter the route takes. */
export function pageOf(params: URLSearchParams, allowed: readonly string[]): Page {
  for (const name of params.keys()) {
    if (!allowed.includes(name)) throw new BadRequest(`unknown query parameter "${name}"; this list takes ${allowed.join(', ')}`);
  }
  return { offset: whole(params, 'offset', 0, Number.MAX_SAFE_INTEGER, 0), limit: whole(params, 'limit', 1, MAX_PAGE, DEFAULT_PAGE) };
}

/** `{ total, offset, limit, [key]: items of the page }`. */
export function paged<T, K extends string>(items: readonly T[], page: Page, key: K): { total: number; offset: number; limit: number } & Record<K, T[]> {
  return { total: items.length, offset: page.offset, limit: page.limit, [key]: items.slice(page.offset, page.offset + page.limit) } as { total: number; offset: number; limit: number } & Record<K, T[]>;
}
