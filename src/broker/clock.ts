// Times kept in 10,000s of objects (a connection's last activity, a session's last acknowledgement)
// as milliseconds since one process-wide origin. Date.now() values (~1.8e12) are no small integers:
// as fields V8 keeps them as boxed doubles, 16 bytes more each per object. Times since the origin
// stay small integers for 2^31 ms (24.8 days) of uptime; past that they are boxed again, and still right.

/** Date.now() when this module was loaded. */
export const CLOCK_ORIGIN = Date.now();

/** `ms` (a Date.now() value) as time since CLOCK_ORIGIN: a small integer while it fits in one (a difference of doubles is a double, which V8 would box). */
export function sinceOrigin(ms: number): number {
  const since = ms - CLOCK_ORIGIN;
  const small = since | 0;
  return small === since ? small : since;
}

/** The Date.now() value of a time since CLOCK_ORIGIN. */
export function fromOrigin(since: number): number {
  return CLOCK_ORIGIN + since;
}
