// A classic BPF interpreter for the instructions speaker/core/bpf.ts emits, to check a filter's meaning
// without a kernel (the kernel runs the programs for real in test/integration/*-responder.test.ts).
import { BPF_JEQ_K, BPF_LD_B_ABS, BPF_LD_H_ABS, BPF_LD_W_ABS, BPF_RET_K, type BpfInsn } from '../../speaker/core/bpf.js'

/** What the program returns for `pkt`: the bytes accepted, 0 for a drop. */
export function runBpf(program: readonly BpfInsn[], pkt: Buffer): number {
  let a = 0
  for (let pc = 0, steps = 0; pc < program.length && steps < 4096; pc++, steps++) {
    const i = program[pc]
    if (i === undefined) break
    switch (i.code) {
      case BPF_LD_W_ABS:
        if (i.k + 4 > pkt.length) return 0 // the kernel drops on an out-of-bounds load
        a = pkt.readUInt32BE(i.k)
        break
      case BPF_LD_H_ABS:
        if (i.k + 2 > pkt.length) return 0
        a = pkt.readUInt16BE(i.k)
        break
      case BPF_LD_B_ABS:
        if (i.k + 1 > pkt.length) return 0
        a = pkt.readUInt8(i.k)
        break
      case BPF_JEQ_K:
        pc += a === i.k ? i.jt : i.jf
        break
      case BPF_RET_K:
        return i.k
      default:
        throw new Error(`opcode 0x${i.code.toString(16)} not interpreted`)
    }
  }
  throw new Error('program fell off its end')
}
