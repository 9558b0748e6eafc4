// `npm run lab`            build the lab, walk the used-by flow, print a summary, tear down; exit 0 if it all worked
// `npm run lab -- up`      the same, but leave it running (.lab/kubeconfig for the machine's kubectl)
// `npm run lab -- down`    stop every process the lab started and delete its namespaces and .lab/
// `--apiserver real`        (run and up) the real kube-apiserver + etcd from KUBEBUILDER_ASSETS instead of the stand-in
// `--kube-proxy stand-in`   (run and up) the lab's kube-proxy role even when KUBEBUILDER_ASSETS has kube-proxy
//                           (default `auto`: the real kube-proxy when it is there; `real` insists on it)
// `--image`                 (run and up) the controller and the speakers from the image `npm run image` built,
//                           started with podman as config/default describes them (test/lab/image.ts)
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Lab, labPrerequisites, runningLabNetns, stopLabFromState, LabBusyError, type LabOptions } from './lab.js'
import { realApiServerAssets, type ApiServerKind } from './real-apiserver.js'
import type { KubeProxyChoice } from './kube-proxy.js'
import { walkService, ipInPoolEntry, type ServiceWalk } from './flow.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const stateDir = path.join(repoRoot, '.lab')
const POOL_FILE = 'config/samples/pool-configmap.yaml'
const SERVICE_FILE = 'config/samples/ingress-service.yaml'
const SERVICE = 'ingress'
const DUAL_STACK_FILE = 'config/samples/dual-stack-service.yaml'
const DUAL_STACK_SERVICE = 'ingress-dual'
const POOL = ['192.0.2.240-192.0.2.250', '2001:db8:0:1::f0/124']

const say = (line: string): void => { process.stdout.write(`lab: ${line}\n`) }

function usage(): never {
  process.stderr.write('usage: npm run lab [-- [run | up] [--apiserver stand-in|real] [--kube-proxy auto|real|stand-in] [--image] | down]\n')
  process.exit(2)
}

async function prerequisitesOrExit(): Promise<void> {
  const problems = await labPrerequisites()
  if (problems.length === 0) return
  for (const p of problems) process.stderr.write(`lab: ${p}\n`)
  process.exit(1)
}

/** What one walk saw that is wrong (empty when everything worked). */
function problemsOf(lab: Lab, w: ServiceWalk): string[] {
  const problems: string[] = []
  const tool = w.ip.includes(':') ? 'ndisc6' : 'arping'
  if (!POOL.some(e => ipInPoolEntry(w.ip, e))) problems.push(`EXTERNAL-IP ${w.ip} is not in the pool ${POOL.join(', ')}`)
  if (w.arping.macs.length !== 1) problems.push(`${tool} ${w.ip} saw ${w.arping.macs.length} MACs (${w.arping.macs.join(', ')}), want exactly one`)
  else if (w.macOwner !== w.announcingNode) problems.push(`the MAC that answered for ${w.ip} is ${w.macOwner ?? 'no node'}'s, but nodeAssigned names ${w.announcingNode}`)
  if (w.announcedBy.length !== 1) problems.push(`${w.announcedBy.length} speakers say they announce ${w.ip} (${w.announcedBy.join(', ')}), want exactly one`)
  if (w.proxyRule === null) problems.push(`${w.macOwner ?? w.announcingNode} has no ${lab.kubeProxy} kube-proxy rule for ${w.ip}`)
  for (const { path: p, answer } of w.answers) {
    const want = p.includes('v1') ? 'api v1' : 'api v2'
    if (answer.body.trim() !== want) problems.push(`GET ${p} on ${w.ip} answered ${JSON.stringify(answer.body.trim())}, want ${JSON.stringify(want)}`)
  }
  return problems
}

/**
 * The walk: the pool, the ingress Service over IPv4, then the dual-stack Service over IPv6 (NDP, and curl
 * through kube-proxy to the ingress pod's IPv6 address). Returns the walks and the problems found.
 */
async function walk(lab: Lab): Promise<{ walks: ServiceWalk[]; problems: string[] }> {
  const walks: ServiceWalk[] = []
  const problems: string[] = []
  try {
    say(`kubectl apply -f ${POOL_FILE}`)
    process.stdout.write(await lab.kubectl(['apply', '-f', POOL_FILE]))
    say(`kubectl apply -f ${SERVICE_FILE}`)
    process.stdout.write(await lab.kubectl(['apply', '-f', SERVICE_FILE]))
    const w = await walkService(lab, {
      service: SERVICE,
      say,
      onExternalIP: async () => {
        say('kubectl get svc')
        process.stdout.write(await lab.kubectl(['get', 'svc']))
      },
    })
    walks.push(w)
    problems.push(...problemsOf(lab, w))

    say(`kubectl apply -f ${DUAL_STACK_FILE}`)
    process.stdout.write(await lab.kubectl(['apply', '-f', DUAL_STACK_FILE]))
    const w6 = await walkService(lab, {
      service: DUAL_STACK_SERVICE,
      family: 'IPv6',
      say,
      onExternalIP: async () => {
        say(`kubectl get svc ${DUAL_STACK_SERVICE}`)
        process.stdout.write(await lab.kubectl(['get', 'svc', DUAL_STACK_SERVICE]))
      },
    })
    walks.push(w6)
    problems.push(...problemsOf(lab, w6))
  } catch (err) {
    problems.push(err instanceof Error ? err.message : String(err))
  }
  return { walks, problems }
}

type Facts = Awaited<ReturnType<Lab['containerFacts']>>

function summary(lab: Lab, walks: readonly ServiceWalk[], problems: readonly string[], seconds: number, facts: Facts): string {
  const lines = [
    '', '=== l2lb lab summary ===', `API server       ${lab.apiserverDescription}`, `kube-proxy       ${lab.kubeProxyDescription}`,
    `l2lb programs    ${lab.programsDescription}`,
    ...facts.map(({ container, facts: f }) => `${'container'.padEnd(16)} ${container}: uid ${f.uid}, capabilities ${f.capabilities.join(',') || 'none'}, ` +
      `root filesystem ${f.readOnlyRoot ? 'read-only' : 'WRITABLE'}, RSS ${f.rssMiB} MiB (peak ${f.peakMiB} MiB)`),
  ]
  for (const w of walks) {
    const tool = w.ip.includes(':') ? 'ndisc6' : 'arping'
    lines.push(
      `Service          default/${w.service}`,
      `EXTERNAL-IP      ${w.ip}`,
      `announcing node  ${w.announcingNode} (Event nodeAssigned; speaker metric: ${w.announcedBy.join(', ')})`,
      `${`${tool} saw`.padEnd(16)} ${w.arping.macs.join(', ') || 'no answer'}${w.macOwner === null ? '' : ` = eth0 of ${w.macOwner}`} (${w.arping.replies} replies)`,
      ...w.answers.map(a => `GET ${a.path.padEnd(10)}   ${a.answer.status} ${JSON.stringify(a.answer.body.trim())}`),
      `proxied by       ${w.proxyRule ?? 'no rule found'}`,
    )
  }
  lines.push(problems.length === 0 ? `result           OK in ${seconds.toFixed(1)} s` : `result           FAILED in ${seconds.toFixed(1)} s`)
  for (const p of problems) lines.push(`  - ${p}`)
  return lines.join('\n') + '\n'
}

async function runOnce(keep: boolean, apiserver: ApiServerKind, kubeProxy: KubeProxyChoice, image: boolean): Promise<number> {
  await prerequisitesOrExit()
  const t0 = Date.now()
  const opts: LabOptions = { stateDir, repoRoot, say, apiserver, kubeProxy, image }
  if (apiserver === 'real') {
    const assets = realApiServerAssets()
    if ('howTo' in assets) {
      process.stderr.write(`lab: ${assets.howTo}\n`)
      return 1
    }
  }
  let lab: Lab
  try {
    lab = new Lab(opts)
  } catch (err) {
    process.stderr.write(`lab: ${err instanceof Error ? err.message : String(err)}\n`)
    return 1
  }
  // Ctrl-C tears down whatever exists so far (state.json lets `npm run lab -- down` finish the job if needed).
  let interrupted = false
  const onSignal = (): void => {
    if (interrupted) return
    interrupted = true
    say('interrupted: tearing down')
    void lab.stop().then(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    await lab.up()
  } catch (err) {
    if (interrupted) {
      await lab.stop()
      return 130
    }
    process.stderr.write(`lab: ${err instanceof Error ? err.message : String(err)}\n`)
    return 1
  }
  let result: { walks: ServiceWalk[]; problems: string[] }
  try {
    result = await walk(lab)
  } catch (err) {
    result = { walks: [], problems: [err instanceof Error ? err.message : String(err)] }
  }
  if (interrupted) {
    await lab.stop()
    return 130
  }
  if (result.problems.length > 0) process.stdout.write(`\n--- last lines of the lab's logs ---\n${await lab.logTails(12)}\n`)
  const facts = await lab.containerFacts().catch(() => [])
  process.stdout.write(summary(lab, result.walks, result.problems, (Date.now() - t0) / 1000, facts))
  if (keep) {
    const rel = path.relative(process.cwd(), lab.kubeconfig) || lab.kubeconfig
    process.stdout.write([
      '',
      'The lab is up and stays up. Use it with the machine\'s kubectl:',
      `  kubectl --kubeconfig ${rel} get svc,nodes,endpointslices`,
      `  ip netns exec l2lb-client arping -c 3 -I eth0 <EXTERNAL-IP>`,
      `  ip netns exec l2lb-client curl -H 'Host: k8s.com' http://<EXTERNAL-IP>/api/v1/`,
      `  ip netns exec l2lb-client ndisc6 <IPv6 EXTERNAL-IP> eth0; ip netns exec l2lb-client curl -H 'Host: k8s.com' 'http://[<IPv6 EXTERNAL-IP>]/api/v1/'`,
      `Logs: ${path.relative(process.cwd(), lab.logDir) || lab.logDir}/   State: ${path.relative(process.cwd(), stateDir)}/state.json`,
      'Stop it with: npm run lab -- down',
      '',
    ].join('\n'))
    return result.problems.length === 0 ? 0 : 1
  }
  const problems = await lab.stop()
  for (const p of problems) say(`teardown: ${p}`)
  say(`torn down (${((Date.now() - t0) / 1000).toFixed(1)} s in all)`)
  return result.problems.length === 0 && problems.length === 0 ? 0 : 1
}

async function down(): Promise<number> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    process.stderr.write('lab: `down` must run as root (it deletes network namespaces): try `sudo npm run lab -- down`\n')
    return 1
  }
  const { stopped, problems } = await stopLabFromState(repoRoot, stateDir)
  say(stopped.length === 0 ? 'nothing was running' : `stopped ${stopped.join(', ')}`)
  for (const p of problems) say(`problem: ${p}`)
  const left = await runningLabNetns()
  if (left.length > 0) say(`still present: ${left.join(', ')}`)
  return problems.length === 0 && left.length === 0 ? 0 : 1
}

let parsed: ReturnType<typeof parseCli>
function parseCli(argv: string[]): { command: string | undefined; apiserver: ApiServerKind; kubeProxy: KubeProxyChoice; image: boolean } {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { apiserver: { type: 'string' }, 'kube-proxy': { type: 'string' }, image: { type: 'boolean' } },
  })
  if (positionals.length > 1) usage()
  const apiserver = values.apiserver ?? 'stand-in'
  if (apiserver !== 'stand-in' && apiserver !== 'real') usage()
  const kubeProxy = values['kube-proxy'] ?? 'auto'
  if (kubeProxy !== 'auto' && kubeProxy !== 'real' && kubeProxy !== 'stand-in') usage()
  if (positionals[0] === 'down' && (values.apiserver !== undefined || values['kube-proxy'] !== undefined || values.image !== undefined)) usage()
  return { command: positionals[0], apiserver, kubeProxy, image: values.image ?? false }
}
try {
  parsed = parseCli(process.argv.slice(2))
} catch {
  usage()
}
const { command, apiserver, kubeProxy, image } = parsed
let code: number
try {
  if (command === undefined || command === 'run') code = await runOnce(false, apiserver, kubeProxy, image)
  else if (command === 'up') code = await runOnce(true, apiserver, kubeProxy, image)
  else if (command === 'down') code = await down()
  else usage()
} catch (err) {
  if (err instanceof LabBusyError) process.stderr.write(`lab: ${err.message}\n`)
  else process.stderr.write(`lab: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  code = 1
}
process.exit(code)
