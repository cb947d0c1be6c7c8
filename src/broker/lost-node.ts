// A cluster node died: the survivor the bus told (exactly one) takes over what it held. For each of
// its client ids, the stored session: its will is published (after its delay, counted from now,
// when the session is persistent); a persistent one is adopted here offline, subscribed and
// queuing, its expiry counting from now, until its client connects somewhere, and claimed, so the
// next survivor adopts it if this node dies too; a non-persistent one (or one that expired
// meanwhile) is deleted. Wills go out without an ACL source: the record keeps none.
import type { Will } from '../codec/types.js';
import type { Store, StoredSession } from '../store/store.js';
import type { Message } from './message.js';
import type { Session } from './session.js';
import { willDelay } from './will.js';

/** What adopting needs of the broker. */
export interface LostNodeHost {
  readonly store: Store<Message>;
  closed(): boolean;
  /** A session of this id is in memory here (it connected here since). */
  holds(clientId: string): boolean;
  /** The stored session as an offline session here, or undefined when it has expired (and was deleted). */
  restore(stored: StoredSession<Message>): Session | undefined;
  publishWill(clientId: string, will: Will): void;
  claim(clientId: string): void;
  delayWill(session: Session, will: Will, delaySeconds: number): void;
  save(session: Session): void;
  storeError(clientId: string, error: unknown): void;
}

export async function adoptLostNode(host: LostNodeHost, clientIds: readonly string[]): Promise<{ wills: number; delayedWills: number; adopted: number }> {
  const { store } = host;
  let wills = 0;
  let delayedWills = 0;
  let adopted = 0;
  const publishWill = (clientId: string, will: Will): void => {
    host.publishWill(clientId, will);
    wills++;
  };
  for (const clientId of clientIds) {
    if (host.closed()) break;
    if (host.holds(clientId)) continue; // it connected here since
    let stored: StoredSession<Message> | undefined;
    try {
      stored = await store.loadSession(clientId);
    } catch (error) {
      host.storeError(clientId, error);
      continue;
    }
    // Gone, or back here meanwhile. (A node it connected to since took it out of the lost node's set with its claim.)
    if (stored === undefined || host.holds(clientId)) continue;
    const { will, expiryInterval } = stored.session;
    if (expiryInterval === 0) {
      store.deleteSession(clientId);
      if (will !== undefined) publishWill(clientId, will);
      continue;
    }
    const session = host.restore({ ...stored, session: { ...stored.session, will: undefined } });
    if (session === undefined) {
      if (will !== undefined) publishWill(clientId, will); // the session ended: its will goes out [MQTT-3.1.3-9]
      continue;
    }
    adopted++;
    host.claim(clientId); // held here now: if this node dies too, the next survivor adopts it
    if (will !== undefined) {
      const delay = willDelay(will, expiryInterval);
      if (delay === 0) publishWill(clientId, will);
      else {
        delayedWills++;
        host.delayWill(session, will, delay);
      }
    }
    host.save(session); // disconnected now; the will kept only while it waits
  }
  return { wills, delayedWills, adopted };
}
