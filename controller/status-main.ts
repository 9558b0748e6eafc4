// `npm run status` / `kubectl l2lb ...` (bin/kubectl-l2lb), with kubectl's KUBECONFIG:
//
//   l2lb status [--json] [--namespace l2lb-system] [--configmap config] [--class CLASS]
//     What l2lb is doing in this cluster, on one screen (controller/core/status-report.ts). Reads only: the pool
//     ConfigMap, Services, Nodes, the speakers' Leases and the `nodeAssigned` Events.
//   l2lb import-metallb [--apply [--overwrite]] [--metallb-namespace metallb-system] [--namespace l2lb-system] [--configmap config]
//     MetalLB's configuration (CRDs, or its legacy ConfigMap) as l2lb's pool ConfigMap (controller/core/metallb-import.ts):
//     the manifest on stdout, one line per thing not carried over on stderr; --apply writes it instead.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { classifyApiError, loadKubeConfig } from '../internal/kube/kube-client.js'
import { collectStatus } from './kube/collect-status.js'
import { applyPoolConfigMap, readMetalLB } from './kube/read-metallb.js'
import { formatStatus } from './core/status-report.js'
import { importMetalLB, poolConfigMapManifest } from './core/metallb-import.js'
import { formatConfigError } from '../internal/core/pool-config.js'

function usage(): string {
  return 'usage: l2lb status [--json] [--namespace l2lb-system] [--configmap config] [--class CLASS]\n' +
    '       l2lb import-metallb [--apply [--overwrite]] [--metallb-namespace metallb-system] [--namespace l2lb-system] [--configmap config]\n'
}

type Args = string[]

/**
 * The command's flags (node:util parseArgs, strict): the values, or null after printing usage (--help: exit 0)
 * or what is wrong (exit 2) to the right stream; `exitCode` says which.
 */
function flags<O extends ParseArgsConfig['options']>(args: Args, options: O): { values: ReturnType<typeof parseArgs<{ args: Args; options: O; strict: true }>>['values'] } | { exitCode: number } {
  try {
    const { values } = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } } as O, strict: true })
    if ((values as { help?: boolean }).help === true) {
      process.stdout.write(usage())
      return { exitCode: 0 }
    }
    return { values }
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${usage()}`)
    return { exitCode: 2 }
  }
}

async function status(args: Args): Promise<number> {
  const f = flags(args, {
    json: { type: 'boolean' }, namespace: { type: 'string', short: 'n' }, configmap: { type: 'string' }, class: { type: 'string' },
  })
  if ('exitCode' in f) return f.exitCode
  const v = f.values
  const opts = { namespace: v.namespace ?? 'l2lb-system', configMap: v.configmap ?? 'config', loadBalancerClass: v.class ?? null }
  const report = await collectStatus(loadKubeConfig(process.env), opts)
  process.stdout.write(v.json === true ? `${JSON.stringify(report, (_, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2)}\n` : formatStatus(report))
  return report.problems.length > 0 ? 1 : 0
}

async function importMetallb(args: Args): Promise<number> {
  const f = flags(args, {
    apply: { type: 'boolean' }, overwrite: { type: 'boolean' }, 'metallb-namespace': { type: 'string' },
    namespace: { type: 'string', short: 'n' }, configmap: { type: 'string' },
  })
  if ('exitCode' in f) return f.exitCode
  const v = f.values
  const apply = v.apply === true
  const overwrite = v.overwrite === true
  const opts = { metallbNamespace: v['metallb-namespace'] ?? 'metallb-system', namespace: v.namespace ?? 'l2lb-system', configMap: v.configmap ?? 'config' }
  const kc = loadKubeConfig(process.env)
  const result = importMetalLB(await readMetalLB(kc, opts))
  for (const n of result.notes) process.stderr.write(`note: ${n}\n`)
  if (result.errors.length > 0) {
    // Printed, never applied: l2lb would refuse it and keep its last good config.
    for (const e of result.errors) process.stderr.write(`error: ${formatConfigError(e)}\n`)
    process.stderr.write('l2lb import-metallb: l2lb would refuse this config (errors above); nothing applied: fix the MetalLB objects or edit the printed config\n')
    process.stdout.write(poolConfigMapManifest(result.configText, opts.namespace, opts.configMap))
    return 1
  }
  if (!apply) {
    process.stdout.write(poolConfigMapManifest(result.configText, opts.namespace, opts.configMap))
    return 0
  }
  const outcome = await applyPoolConfigMap(kc, opts.namespace, opts.configMap, result.configText, overwrite)
  process.stdout.write(`configmap/${opts.configMap} ${outcome} in namespace ${opts.namespace} (from MetalLB's ${result.source === 'crds' ? 'CRDs' : result.source === 'configmap' ? 'ConfigMap' : 'nothing'})\n`)
  return 0
}

async function main(argv: readonly string[]): Promise<number> {
  const args = [...argv]
  const command = args[0] === undefined || args[0].startsWith('-') ? 'status' : args.shift()
  if (command === 'status') return status(args)
  if (command === 'import-metallb') return importMetallb(args)
  process.stderr.write(`unknown command ${command}\n${usage()}`)
  return 2
}

main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err: unknown) => {
  const c = classifyApiError(err)
  process.stderr.write(`l2lb: ${c.message}${c.status === null ? '' : ` (HTTP ${c.status})`}\n`)
  process.exitCode = 2
})
