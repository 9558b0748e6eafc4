// `npm run status` / `kubectl l2lb ...` (bin/kubectl-l2lb), with kubectl's KUBECONFIG:
//
//   l2lb status [--json] [--namespace l2lb-system] [--configmap config] [--class CLASS]
//     What l2lb is doing in this cluster, on one screen (controller/core/status-report.ts). Reads only: the pool
//     ConfigMap, Services, Nodes, the speakers' Leases and the `nodeAssigned` Events.
//   l2lb import-metallb [--apply [--overwrite]] [--metallb-namespace metallb-system] [--namespace l2lb-system] [--configmap config]
//     MetalLB's configuration (CRDs, or its legacy ConfigMap) as l2lb's pool ConfigMap (controller/core/metallb-import.ts):
//     the manifest on stdout, one line per thing not carried over on stderr; --apply writes it instead.
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

function valueOf(args: Args, flag: string): string {
  const v = args.shift()
  if (v === undefined) throw new Error(`${flag} needs a value`)
  return v
}

async function status(args: Args): Promise<number> {
  let json = false
  const opts = { namespace: 'l2lb-system', configMap: 'config', loadBalancerClass: null as string | null }
  while (args.length > 0) {
    const a = args.shift() ?? ''
    if (a === '--json') json = true
    else if (a === '--namespace' || a === '-n') opts.namespace = valueOf(args, a)
    else if (a === '--configmap') opts.configMap = valueOf(args, a)
    else if (a === '--class') opts.loadBalancerClass = valueOf(args, a)
    else if (a === '--help' || a === '-h') {
      process.stdout.write(usage())
      return 0
    } else {
      process.stderr.write(`unknown argument ${a}\n${usage()}`)
      return 2
    }
  }
  const report = await collectStatus(loadKubeConfig(process.env), opts)
  process.stdout.write(json ? `${JSON.stringify(report, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n` : formatStatus(report))
  return report.problems.length > 0 ? 1 : 0
}

async function importMetallb(args: Args): Promise<number> {
  let apply = false
  let overwrite = false
  const opts = { metallbNamespace: 'metallb-system', namespace: 'l2lb-system', configMap: 'config' }
  while (args.length > 0) {
    const a = args.shift() ?? ''
    if (a === '--apply') apply = true
    else if (a === '--overwrite') overwrite = true
    else if (a === '--metallb-namespace') opts.metallbNamespace = valueOf(args, a)
    else if (a === '--namespace' || a === '-n') opts.namespace = valueOf(args, a)
    else if (a === '--configmap') opts.configMap = valueOf(args, a)
    else if (a === '--help' || a === '-h') {
      process.stdout.write(usage())
      return 0
    } else {
      process.stderr.write(`unknown argument ${a}\n${usage()}`)
      return 2
    }
  }
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
