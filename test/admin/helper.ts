// What the admin listener tests share: a moat process with an admin listener, and HTTP(S)
// requests to it with node:http/node:https (so a test can name the CA of a TLS admin listener).
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import { moatListener, startMoat, type RunningMoat } from '../kit/index.js';

export interface AdminAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: unknown;
}

export interface AdminRequest {
  readonly method?: string;
  readonly token?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** For https: the CA to trust. */
  readonly ca?: Buffer;
}

/** One request to `url`; resolves with the whole answer. */
export function adminRequest(url: string, options: AdminRequest = {}): Promise<AdminAnswer> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const req = send(target, { method: options.method ?? 'GET', headers, ...(options.ca === undefined ? {} : { ca: options.ca }), agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface AdminMoat {
  readonly moat: RunningMoat;
  /** http://127.0.0.1:PORT (or https://localhost:PORT) */
  readonly base: string;
}

/** Starts moat with `config` (which has an admin_listener) and learns the admin port from its log. */
export async function startAdminMoat(config: string, protocol: 'admin-http' | 'admin-https' = 'admin-http'): Promise<AdminMoat> {
  const moat = await startMoat({ config });
  try {
    const admin = await moatListener(moat, protocol);
    const host = protocol === 'admin-https' ? 'localhost' : admin.host;
    return { moat, base: `${protocol === 'admin-https' ? 'https' : 'http'}://${host}:${admin.port}` };
  } catch (error) {
    await moat.stop();
    throw error;
  }
}

/** One metric family as parse-prometheus-text-format returns it. */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  readonly metrics: ReadonlyArray<{ readonly value?: string; readonly labels?: Readonly<Record<string, string>>; readonly buckets?: Readonly<Record<string, string>>; readonly count?: string; readonly sum?: string }>;
}

/** The real Prometheus text-format parser (a CommonJS package without types). */
export const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => MetricFamily[];

/** The value of the sample of `name` whose labels include `labels` (undefined when there is none). */
export function sample(families: readonly MetricFamily[], name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  const family = families.find((f) => f.name === name);
  const metric = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return metric?.value === undefined ? undefined : Number(metric.value);
}
