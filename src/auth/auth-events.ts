// What the login checks report, for the broker to publish as events (broker/events.ts): auth/ sits
// above broker/ and cannot import it, so the Authenticator is handed a report function instead of
// a logger. Values are raw (not clipped): clipping is the log's business.

export interface AuthEventFields {
  /** A login refused for the client's credentials or a ban (counted against the address and name). */
  readonly failed: {
    readonly address: string | undefined;
    readonly username: string | undefined;
    readonly clientId: string | undefined;
    readonly reasonCode: number;
    readonly reason: string;
    readonly detail: string;
  };
  /** An address or user name reached auth_failure_limit and is banned for auth_ban_time. */
  readonly banned: { readonly key: string; readonly address: string | undefined; readonly username: string | undefined };
  /** A login refused because the checks were at their bounds (0x89); reported at most every 10 s. */
  readonly busy: {
    readonly address: string | undefined;
    readonly username: string | undefined;
    readonly clientId: string | undefined;
    readonly reasonCode: number;
    readonly detail: string;
    /** Busy refusals not reported since the last report. */
    readonly suppressed: number;
    readonly busyRefusals: number;
  };
  /** A password check failed inside moat (not the client's fault). */
  readonly error: { readonly address: string | undefined; readonly username: string | undefined; readonly clientId: string | undefined; readonly err: string };
  /** A hashing worker died; reported at most every 10 s. */
  readonly hashWorkerFailed: { readonly err: string; readonly suppressed: number };
}

export type AuthEventKind = keyof AuthEventFields;

export type AuthReport = <K extends AuthEventKind>(kind: K, fields: AuthEventFields[K]) => void;

export const ignoreAuthEvents: AuthReport = () => {};
