// `npm run status` / `kubectl l2lb status` (bin/kubectl-l2lb): what l2lb is doing in this cluster, on one
// screen (controller/core/status-report.ts). Reads only: the pool ConfigMap, Services, Nodes, the speakers'
// Leases and the `nodeAssigned` Events.
//
//   l2lb status [--json] [--namespace l2lb-system] [--configmap config] [--class CLASS]
import { classifyApiError, loadKubeConfig } from './kube/kube-client.js'
import { collectStatus } from './kube/collect-status.js'
import { formatStatus } from './core/status-report.js'

function usage(): string {
  return 'usage: l2lb status [--json] [--namespace l2lb-system] [--configmap config] [--class CLASS]\n'
}

async function main(argv: readonly string[]): Promise<number> {
  const args = [...argv]
  if (args[0] === 'status') args.shift()
  let json = false
  const opts = { namespace: 'l2lb-system', configMap: 'config', loadBalancerClass: null as string | null }
  while (args.length > 0) {
    const a = args.shift()
    const value = (): string => {
      const v = args.shift()
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--json') json = true
    else if (a === '--namespace' || a === '-n') opts.namespace = value()
    else if (a === '--configmap') opts.configMap = value()
    else if (a === '--class') opts.loadBalancerClass = value()
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

main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err: unknown) => {
  const c = classifyApiError(err)
  process.stderr.write(`l2lb status: ${c.message}${c.status === null ? '' : ` (HTTP ${c.status})`}\n`)
  process.exitCode = 2
})
