// Step 6 (--topic T): sample what is published on T for a few seconds and check each payload:
// valid UTF-8, valid JSON, and with --schema a JSON Schema (ajv: draft 2020-12, 2019-09 or
// draft-07, as the schema's $schema says; draft 2020-12 when it says nothing).
import { readFile } from 'node:fs/promises';
import AjvModule2019 from 'ajv/dist/2019.js';
import AjvModule2020 from 'ajv/dist/2020.js';
import AjvModule from 'ajv';
import type { MqttClient } from '../client/index.js';
import { MoatError } from '../codec/errors.js';
import { formatReason } from '../codec/reason-codes.js';
import { within } from '../audit/mqtt-probe.js';
import { elapsed, stage, type StageResult } from './stages.js';

/** A compiled schema: undefined when the value passes, else ajv's errors in words. */
export type SchemaCheck = (value: unknown) => string | undefined;

// ajv is CommonJS; its classes are the modules' default export.
const Ajv07 = AjvModule.default;
const Ajv2019 = AjvModule2019.default;
const Ajv2020 = AjvModule2020.default;

/** Reads and compiles --schema FILE; throws MoatError (MOAT_ERR_DEBUG_SCHEMA) saying what is wrong with it. */
export async function loadSchema(path: string): Promise<SchemaCheck> {
  let schema: unknown;
  try {
    schema = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new MoatError('MOAT_ERR_DEBUG_SCHEMA', `cannot read --schema ${path} as JSON: ${(error as Error).message}`, { cause: error });
  }
  const dialect = typeof schema === 'object' && schema !== null ? String((schema as { $schema?: unknown }).$schema ?? '') : '';
  const ajv = /draft-0[467]/.test(dialect) ? new Ajv07({ allErrors: false, strict: false })
    : /2019-09/.test(dialect) ? new Ajv2019({ allErrors: false, strict: false })
      : new Ajv2020({ allErrors: false, strict: false });
  let validate: ReturnType<typeof ajv.compile>;
  try {
    validate = ajv.compile(schema as object);
  } catch (error) {
    throw new MoatError('MOAT_ERR_DEBUG_SCHEMA', `--schema ${path} is not a valid JSON Schema: ${(error as Error).message}`, { cause: error });
  }
  return (value) => (validate(value) ? undefined : ajv.errorsText(validate.errors, { dataVar: 'payload' }));
}

export interface PayloadStepOptions {
  readonly topic: string;
  readonly sampleMs: number;
  readonly timeoutMs: number;
  readonly schema?: SchemaCheck | undefined;
}

interface Failure {
  readonly topic: string;
  readonly problem: string;
  readonly payload: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** What is wrong with one payload, or undefined. */
export function payloadProblem(payload: Uint8Array, schema: SchemaCheck | undefined): string | undefined {
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return 'not valid UTF-8';
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not valid JSON (${(error as Error).message})`;
  }
  const invalid = schema?.(value);
  return invalid === undefined ? undefined : `does not match the schema: ${invalid}`;
}

export async function checkPayloads(client: MqttClient, options: PayloadStepOptions): Promise<StageResult> {
  const started = performance.now();
  const { topic } = options;
  let total = 0;
  const failures: Failure[] = [];
  const off = client.onMessage((message) => {
    total += 1;
    const problem = payloadProblem(message.payload, options.schema);
    if (problem !== undefined) failures.push({ topic: message.topic, problem, payload: preview(message.payload) });
  });
  try {
    const codes = await within(client.subscribe(topic, { qos: 1 }).catch((error: unknown) => error as Error), options.timeoutMs);
    const code = codes === undefined || codes instanceof Error ? undefined : codes[0];
    if (code === undefined || code >= 0x80) {
      const words = code === undefined ? (codes instanceof Error ? codes.message : `no SUBACK within ${options.timeoutMs} ms`) : `SUBACK ${formatReason(code, { packet: 'suback', protocolVersion: client.protocolVersion })}`;
      return stage('payload', 'failed', elapsed(started), `SUBSCRIBE ${topic} refused`, { topic }, {
        diagnosis: `Could not subscribe to ${topic}: ${words}`,
        fix: `Grant read access to ${topic} in the broker's acl_file (topic read ${topic}), or check the filter.`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, options.sampleMs));
  } finally {
    off();
  }
  const seconds = Math.round(options.sampleMs / 100) / 10;
  const checks = options.schema === undefined ? 'UTF-8 and JSON' : 'UTF-8, JSON and the schema';
  const details = { topic, sampled: total, passed: total - failures.length, failed: failures.length, checks, firstFailure: failures[0] };
  if (total === 0) {
    return stage('payload', 'warning', elapsed(started), `no message on ${topic} in ${seconds} s`, details);
  }
  const first = failures[0];
  if (first === undefined) return stage('payload', 'ok', elapsed(started), `${total} message${total === 1 ? '' : 's'} on ${topic} in ${seconds} s, all pass ${checks}`, details);
  return stage('payload', 'failed', elapsed(started), `${failures.length} of ${total} failed ${checks} (${total - failures.length} passed)`, details, {
    diagnosis: `${failures.length} of ${total} messages on ${topic} failed the check (${total - failures.length} passed). The first, on ${first.topic} (${first.payload}): ${first.problem}.`,
    fix: 'Fix the publisher that sends these payloads (its topic is above), or the schema if it is the schema that is wrong.',
  });
}

function preview(payload: Uint8Array): string {
  const text = Buffer.from(payload).toString('utf8');
  return text.length > 80 ? `${JSON.stringify(text.slice(0, 80))}…` : JSON.stringify(text);
}
