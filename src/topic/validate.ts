// Topic name and filter rules (MQTT 5.0 sections 4.7 and 4.8, the same in 3.1.1 section 4.7).
// Each check returns an error sentence or undefined, so the broker can put the sentence in a
// reason string or log line and the CLI can print it; nothing here throws.

/** Length prefix of a UTF-8 string in MQTT: two bytes [MQTT-4.7.3-3]. */
export const MAX_TOPIC_BYTES = 65535;

const SHARE_PREFIX = '$share/';

export interface SharedFilter {
  /** The ShareName. */
  group: string;
  /** The topic filter after `$share/{group}/`. */
  filter: string;
}

/** undefined when `name` is a valid topic name for PUBLISH; otherwise why not. */
export function validateTopicName(name: string): string | undefined {
  const common = validateCommon(name, 'topic name');
  if (common !== undefined) return common;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2b /* + */ || c === 0x23 /* # */) {
      return `topic name "${name}" contains the wildcard "${name[i]}"; wildcards are only allowed in subscriptions [MQTT-3.3.2-2]`;
    }
  }
  return undefined;
}

/** undefined when `filter` is a valid topic filter for SUBSCRIBE/UNSUBSCRIBE; otherwise why not. */
export function validateTopicFilter(filter: string): string | undefined {
  const common = validateCommon(filter, 'topic filter');
  if (common !== undefined) return common;
  if (filter.startsWith(SHARE_PREFIX)) {
    const slash = filter.indexOf('/', SHARE_PREFIX.length);
    const group = filter.slice(SHARE_PREFIX.length, slash === -1 ? undefined : slash);
    if (group === '') return `shared subscription "${filter}" has an empty share name; use $share/<group>/<filter> [MQTT-4.8.2-1]`;
    if (group.includes('+') || group.includes('#')) {
      return `shared subscription "${filter}" has a share name containing + or # [MQTT-4.8.2-2]`;
    }
    if (slash === -1 || slash === filter.length - 1) {
      return `shared subscription "${filter}" has no topic filter after the share name; use $share/<group>/<filter> [MQTT-4.8.2-2]`;
    }
    return validateLevels(filter, slash + 1, filter);
  }
  return validateLevels(filter, 0, filter);
}

/** `$share/{group}/{filter}` split in two; undefined for a filter that is not shared or not valid. */
export function parseSharedFilter(filter: string): SharedFilter | undefined {
  if (!filter.startsWith(SHARE_PREFIX)) return undefined;
  if (validateTopicFilter(filter) !== undefined) return undefined;
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  return { group: filter.slice(SHARE_PREFIX.length, slash), filter: filter.slice(slash + 1) };
}

function validateCommon(value: string, what: string): string | undefined {
  if (value.length === 0) return `${what} is empty; it must be at least one character [MQTT-4.7.3-1]`;
  // Cheap bound first: a UTF-16 unit is at most 3 UTF-8 bytes, so short strings need no count.
  if (value.length * 3 > MAX_TOPIC_BYTES && Buffer.byteLength(value, 'utf8') > MAX_TOPIC_BYTES) {
    return `${what} is longer than ${MAX_TOPIC_BYTES} bytes of UTF-8 [MQTT-4.7.3-3]`;
  }
  if (value.includes('\u0000')) return `${what} contains the null character U+0000 [MQTT-4.7.3-2]`;
  return undefined;
}

/** Check the wildcard placement of `filter` from `start` on; `whole` is the full string for messages. */
function validateLevels(filter: string, start: number, whole: string): string | undefined {
  for (let i = start; i < filter.length; i++) {
    const c = filter.charCodeAt(i);
    if (c !== 0x2b && c !== 0x23) continue;
    const ownsLevel = (i === start || filter.charCodeAt(i - 1) === 0x2f) &&
      (i === filter.length - 1 || filter.charCodeAt(i + 1) === 0x2f);
    if (c === 0x2b && !ownsLevel) {
      return `topic filter "${whole}" uses + inside a level; + must be a whole level, as in "a/+/c" [MQTT-4.7.1-2]`;
    }
    if (c === 0x23 && (!ownsLevel || i !== filter.length - 1)) {
      return `topic filter "${whole}" uses # other than as the whole last level; write "a/#" [MQTT-4.7.1-1]`;
    }
  }
  return undefined;
}

/**
 * undefined when `topic` (a name, or a filter without its `$share/group/` prefix) has at most
 * `maxLevels` levels; otherwise why not. Counting stops at the limit, so a 65,535-level topic costs
 * no more than a legal one.
 */
export function checkTopicDepth(topic: string, maxLevels: number, what: 'topic name' | 'topic filter' | 'will topic'): string | undefined {
  let levels = 1;
  for (let i = topic.indexOf('/'); i !== -1; i = topic.indexOf('/', i + 1)) {
    if (++levels > maxLevels) {
      return `${what} has more than ${maxLevels} levels (max_topic_levels); deeper topics are refused`;
    }
  }
  return undefined;
}

/**
 * Undefined when `topic` is at most `maxBytes` UTF-8 bytes long; otherwise why not. Its length in
 * UTF-16 units bounds the byte count from both sides (1 to 3 bytes each), so only a topic near
 * the limit is measured.
 */
export function checkTopicLength(topic: string, maxBytes: number, what: 'topic name' | 'topic filter' | 'will topic'): string | undefined {
  const units = topic.length;
  if (units * 3 <= maxBytes) return undefined;
  const bytes = units > maxBytes ? units : Buffer.byteLength(topic);
  return bytes > maxBytes ? `${what} is longer than ${maxBytes} bytes (max_topic_length); longer ones are refused` : undefined;
}
