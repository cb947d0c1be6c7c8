// One filter against one topic name, for the places that hold topics rather than filters
// (retained messages on SUBSCRIBE). Same rules as the trie [MQTT-4.7.1, MQTT-4.7.2-1].

/** True when `topic` matches `filter` (a plain filter, no `$share/` prefix). */
export function filterMatches(filter: string, topic: string): boolean {
  // Topics beginning with $ are not matched by a leading wildcard [MQTT-4.7.2-1].
  if (topic.charCodeAt(0) === 0x24 && (filter.charCodeAt(0) === 0x2b || filter.charCodeAt(0) === 0x23)) return false;
  let f = 0;
  let t = 0;
  const fl = filter.length;
  const tl = topic.length;
  while (f < fl) {
    const c = filter.charCodeAt(f);
    if (c === 0x23) return true; // '#' matches the rest, including the parent level
    if (c === 0x2b) {
      // '+' consumes one level of the topic, possibly empty
      while (t < tl && topic.charCodeAt(t) !== 0x2f) t++;
      f++;
    } else {
      // literal level: compare up to the next '/'
      while (f < fl && filter.charCodeAt(f) !== 0x2f) {
        if (t >= tl || topic.charCodeAt(t) !== filter.charCodeAt(f)) return false;
        f++;
        t++;
      }
      if (t < tl && topic.charCodeAt(t) !== 0x2f) return false;
    }
    if (f === fl) return t === tl;
    // filter is at '/': the topic must be too, or end right before "/#"
    f++;
    if (t === tl) return filter.charCodeAt(f) === 0x23 && f + 1 === fl;
    t++;
  }
  return t === tl;
}
