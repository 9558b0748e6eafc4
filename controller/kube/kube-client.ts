// The one place that knows how to reach the API server and how to read its errors. Everything above this
// layer sees outcomes ('conflict', 'notFound', ...), never HTTP status codes.
import { KubeConfig, ApiException, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'

/** KUBECONFIG (or ~/.kube/config) when set, the in-cluster service account otherwise. */
export function loadKubeConfig(env: NodeJS.ProcessEnv): KubeConfig {
  const kc = new KubeConfig()
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

/** Translate a client-node error: 404, 409 and 410 are the answers the logic above cares about. */
export function classifyApiError(err: unknown): ClassifiedApiError {
  if (err instanceof ApiException) {
    const status = typeof err.code === 'number' ? err.code : null
    const message = statusMessage(err.body) ?? err.message
    if (status === 404) return { outcome: 'notFound', status, message }
    if (status === 409) return { outcome: 'conflict', status, message }
    if (status === 410) return { outcome: 'gone', status, message }
    return { outcome: 'failed', status, message }
  }
  return { outcome: 'failed', status: null, message: err instanceof Error ? err.message : String(err) }
}

/** Request options that send a body as a JSON merge patch (RFC 7386). */
export function mergePatch(): ReturnType<typeof setHeaderOptions> {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
}
