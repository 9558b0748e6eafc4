// The one place that knows how to reach the API server and how to read its errors. Everything above this
// layer sees outcomes ('conflict', 'notFound', ...), never HTTP status codes.
import { Agent as HttpsAgent } from 'node:https'
import { KubeConfig, ApiException, PatchStrategy, setHeaderOptions, type RequestContext } from '@kubernetes/client-node'

/** Connections kept open to the API server per process (client-go keeps one HTTP/2 connection). */
const MAX_SOCKETS = 16

/**
 * A KubeConfig whose API calls share one keep-alive connection pool. client-node 1.x builds a new
 * https.Agent for every request, so every call paid a TCP and a TLS handshake: with 8 reconcile workers
 * the controller managed 28 Services a second against the in-process API server, every request a fresh
 * handshake (bench/controller.ts). The cluster and user are fixed once loaded, so the agent is made once,
 * from the options client-node derived for the first request; proxies keep client-node's own agent. The
 * bearer token travels in a header per request, so a rotated service-account token is still picked up; a
 * rotated client certificate file is not (restart the program, as with client-go's cached transports).
 */
export class PooledKubeConfig extends KubeConfig {
  #agent: HttpsAgent | null = null

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context)
    const fresh = context.getAgent()
    if (!(fresh instanceof HttpsAgent) || fresh.constructor !== HttpsAgent) return
    this.#agent ??= new HttpsAgent({ ...fresh.options, keepAlive: true, maxSockets: MAX_SOCKETS })
    context.setAgent(this.#agent)
  }
}

/** KUBECONFIG (or ~/.kube/config) when set, the in-cluster service account otherwise. */
export function loadKubeConfig(env: NodeJS.ProcessEnv): KubeConfig {
  const kc = new PooledKubeConfig()
  if (env.KUBECONFIG || !env.KUBERNETES_SERVICE_HOST) kc.loadFromDefault()
  else kc.loadFromCluster()
  return kc
}

export type ApiOutcome = 'ok' | 'conflict' | 'notFound' | 'gone' | 'failed'

export interface ClassifiedApiError {
  readonly outcome: Exclude<ApiOutcome, 'ok'>
  /** HTTP status when the server answered, null for transport errors. */
  readonly status: number | null
  readonly message: string
}

function statusMessage(body: unknown): string | null {
  if (typeof body === 'string') {
    try { return statusMessage(JSON.parse(body)) } catch { return body || null }
  }
  if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string') return body.message
  return null
}

/** The `details.causes[].field` of a Status body. */
function causeFields(body: unknown): string[] {
  if (typeof body === 'string') {
    try { return causeFields(JSON.parse(body)) } catch { return [] }
  }
  if (!body || typeof body !== 'object' || !('details' in body)) return []
  const details: unknown = body.details
  if (!details || typeof details !== 'object' || !('causes' in details) || !Array.isArray(details.causes)) return []
  return details.causes.map((c: unknown) => (c && typeof c === 'object' && 'field' in c && typeof c.field === 'string' ? c.field : ''))
}

/**
 * Translate a client-node error: 404, 409 and 410 are the answers the logic above cares about. A 422 naming
 * `metadata.uid` is a conflict too: kube-apiserver 1.32 answers a write whose uid precondition no longer holds
 * (the object was deleted and re-created under its name) that way (test/apiserver/golden/uid-patch-immutable-422.txt).
 */
export function classifyApiError(err: unknown): ClassifiedApiError {
  if (err instanceof ApiException) {
    const status = typeof err.code === 'number' ? err.code : null
    const message = statusMessage(err.body) ?? err.message
    if (status === 404) return { outcome: 'notFound', status, message }
    if (status === 409 || (status === 422 && causeFields(err.body).includes('metadata.uid'))) return { outcome: 'conflict', status, message }
    if (status === 410) return { outcome: 'gone', status, message }
    return { outcome: 'failed', status, message }
  }
  return { outcome: 'failed', status: null, message: err instanceof Error ? err.message : String(err) }
}

/** Request options that send a body as a JSON merge patch (RFC 7386). */
export function mergePatch(): ReturnType<typeof setHeaderOptions> {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
}
