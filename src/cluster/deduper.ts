// Drops what a bus delivers twice: every envelope carries its node's increasing sequence number,
// so anything at or below the last one seen from that node has been handled already.
export class Deduper {
  readonly #last = new Map<string, number>();

  /** True the first time (node, seq) is seen in order; false for a repeat or an older one. */
  accept(node: string, seq: number): boolean {
    const last = this.#last.get(node);
    if (last !== undefined && seq <= last) return false;
    this.#last.set(node, seq);
    return true;
  }

  /** Forgets a node (it left the cluster; a restarted node starts its sequence again). */
  forget(node: string): void {
    this.#last.delete(node);
  }
}
