// A classic BPF interpreter for the instructions speaker/core/bpf.ts emits, to check a filter's meaning
// without a kernel (the kernel runs the programs for real in test/integration/*-responder.test.ts).
import { BPF_JA, BPF_JEQ_K, BPF_LD_B_ABS, BPF_LD_H_ABS, BPF_LD_W_ABS, BPF_RET_K, type BpfInsn } from '../../speaker/core/bpf.js'

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
      case BPF_JA:
        pc += i.k
        break
      case BPF_RET_K:
        return i.k
      default:
        throw new Error(`opcode 0x${i.code.toString(16)} not interpreted`)
    }
  }
  throw new Error('program fell off its end')
}

/**
 * The kernel's checks at SO_ATTACH_FILTER time (bpf_check_classic, net/core/filter.c) that our programs
 * could break: 1 to BPF_MAXINSNS (4096) instructions, every jump lands inside the program (jt/jf are
 * u8), and the last instruction returns. Throws with the first violation.
 */
export function checkBpf(program: readonly BpfInsn[]): void {
  if (program.length < 1 || program.length > 4096) throw new Error(`program length ${program.length} not in 1..4096`)
  program.forEach((i, pc) => {
    if (i.jt < 0 || i.jt > 255 || i.jf < 0 || i.jf > 255) throw new Error(`insn ${pc}: jt/jf out of u8 range`)
    const targets = i.code === BPF_JEQ_K ? [i.jt, i.jf] : i.code === BPF_JA ? [i.k] : []
    for (const off of targets) {
      if (pc + 1 + off >= program.length) throw new Error(`insn ${pc}: jump by ${off} leaves the program`)
    }
  })
  if (program[program.length - 1]?.code !== BPF_RET_K) throw new Error('last instruction does not return')
}
