// What a Layer-2 protocol's pure decision (arp-decision.ts: decideArp, ndp-decision.ts: decideNdp) makes of one
// received frame, and what it decides from: one definition for both protocols, which the responder shell
// (speaker/layer2-responder.ts) acts on. Each protocol brings only its own drop reasons.
import type { PacketError } from './ethernet.js'
import type { CanonicalIP } from '../../internal/core/ip.js'

export type Layer2Decision<Reason extends string> =
  /** An answer to send: the frame, for the announced `ip` asked for. */
  | { kind: 'reply'; ip: CanonicalIP; frame: Buffer }
  /** Another host (MAC `from`) announced or uses `ip`, which this node announces (RFC 5227 §2.4). */
  | { kind: 'conflict'; ip: CanonicalIP; from: Buffer }
  /** Another host (MAC `from`) uses `ip`, which this node is probing for (RFC 5227 §2.1.1, RFC 4862 §5.4.4). */
  | { kind: 'in-use'; ip: CanonicalIP; from: Buffer }
  /** Not answered, for a reason the shell counts; a malformed frame carries the codec's error. */
  | { kind: 'drop'; reason: Reason; error?: PacketError }

export interface Layer2Context {
  /** Our interface's MAC (6 bytes). */
  mac: Buffer
  /** Addresses this node announces on the interface, canonical text (dotted quad, RFC 5952); read by every decision. */
  announced: ReadonlySet<string>
  /**
   * Addresses this node probes for before announcing them (never also in `announced`). Requests for them
   * are not answered: the address is not ours yet.
   */
  probing?: ReadonlySet<string>
}
