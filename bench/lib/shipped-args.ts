// What config/default runs: the container's args (the image's entrypoint is `node`), read from the manifests
// by the lab's reader (test/lab/image.ts) so that the benches measure the programs with exactly the node flags
// a cluster gives them, and the lab runs them with.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { containerArgs, readWorkloadManifest } from '../../test/lab/image.js'

export type Program = 'controller' | 'speaker'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The container's args in config/default/<program>.yaml: node's flags, then the script. */
export function shippedArgs(program: Program): string[] {
  return containerArgs(readWorkloadManifest(repoRoot, program))
}

/** node's own flags in those args (everything before the script), e.g. the speaker's V8 memory settings. */
export function shippedNodeFlags(program: Program): string[] {
  const args = shippedArgs(program)
  const script = args.findIndex(a => !a.startsWith('-'))
  if (script === -1) throw new Error(`config/default/${program}.yaml: the args name no script`)
  return args.slice(0, script)
}
