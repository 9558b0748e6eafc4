// What config/default runs: the container's args (the image's entrypoint is `node`), read from the manifests
// so that the benches measure the programs with exactly the node flags a cluster gives them.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { load as loadYaml } from 'js-yaml'

export type Program = 'controller' | 'speaker'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The container's args in config/default/<program>.yaml: node's flags, then the script. */
export function shippedArgs(program: Program): string[] {
  const where = `config/default/${program}.yaml`
  const doc: unknown = loadYaml(readFileSync(path.join(repoRoot, where), 'utf8'))
  const pick = (v: unknown, ...keys: (string | number)[]): unknown => keys.reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? Reflect.get(o, k) : undefined), v)
  const args = pick(doc, 'spec', 'template', 'spec', 'containers', 0, 'args')
  if (!Array.isArray(args) || !args.every(a => typeof a === 'string')) throw new Error(`${where}: no container args`)
  return args.map(String)
}

/** node's own flags in those args (everything before the script), e.g. the speaker's V8 memory settings. */
export function shippedNodeFlags(program: Program): string[] {
  const args = shippedArgs(program)
  const script = args.findIndex(a => !a.startsWith('-'))
  if (script === -1) throw new Error(`config/default/${program}.yaml: the args name no script`)
  return args.slice(0, script)
}
