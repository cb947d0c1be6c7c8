// Public API of topic/: validation and the subscription trie. Everything else in the folder is internal.
export { MAX_TOPIC_BYTES, parseSharedFilter, validateTopicFilter, validateTopicName } from './validate.js';
export type { SharedFilter } from './validate.js';
export { SubscriptionTrie } from './trie.js';
export type { MatchResult, SubscriptionTrieOptions } from './trie.js';
export type { SharedGroup, TrieEntry } from './shared-group.js';
