// Services that got no address, each with the last failure reported for it. Reconcile's own memory, kept
// only for two of its answers: not to repeat the same AllocationFailed Warning Event on every pass over a
// Service that still cannot be served, and to ask for every Service to be looked at again (reprocessAll)
// when an address opens up while someone waits. The allocator knows nothing of it; the controller keeps one
// beside its allocator (a new allocator, as after a restart, starts with a new one).

export class WaitingServices {
  /** Service key -> the failure message last reported for it. */
  private readonly reported = new Map<string, string>()

  /**
   * Note that a Service waits for an address because of `message`. True when that is news (first failure,
   * or a different one), so the caller records the Event; false when the same message was reported already.
   */
  report(key: string, message: string): boolean {
    if (this.reported.get(key) === message) return false
    this.reported.set(key, message)
    return true
  }

  /** The Service waits no more (it got an address, left l2lb, or was deleted). */
  clear(key: string): void {
    this.reported.delete(key)
  }

  /** Whether any Service other than `except` is waiting. */
  anyBesides(except: string): boolean {
    return this.reported.size > (this.reported.has(except) ? 1 : 0)
  }
}
