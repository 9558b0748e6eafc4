// `kubectl l2lb import-metallb`, the shell: reads MetalLB's configuration from the API for the pure
// importMetalLB (controller/core/metallb-import.ts), and writes l2lb's pool ConfigMap on --apply.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node'
import { classifyApiError, mergePatch } from '../../internal/kube/kube-client.js'
import type { MetalLBInput, MetalLBObject } from '../core/metallb-import.js'

const GROUP = 'metallb.io'

/** The objects of one MetalLB kind in its namespace; none when the CRD is not installed (404). */
async function listKind(api: CustomObjectsApi, namespace: string, plural: string, versions: readonly string[]): Promise<MetalLBObject[]> {
  for (const version of versions) {
    try {
      const list = await api.listNamespacedCustomObject({ group: GROUP, version, namespace, plural }) as { items?: MetalLBObject[] }
      return list.items ?? []
    } catch (err) {
      if (classifyApiError(err).outcome !== 'notFound') throw err
    }
  }
  return []
}

export interface ReadMetalLBOptions {
  /** Where MetalLB keeps its objects and its legacy ConfigMap (MetalLB reads only its own namespace). */
  readonly metallbNamespace: string
}

/** Everything importMetalLB needs, read from the cluster. */
export async function readMetalLB(kc: KubeConfig, opts: ReadMetalLBOptions): Promise<MetalLBInput> {
  const custom = kc.makeApiClient(CustomObjectsApi)
  const core = kc.makeApiClient(CoreV1Api)
  const ns = opts.metallbNamespace
  const [ipAddressPools, l2Advertisements] = await Promise.all([
    listKind(custom, ns, 'ipaddresspools', ['v1beta1']),
    listKind(custom, ns, 'l2advertisements', ['v1beta1']),
  ])
  const bgpObjects: { kind: string; name: string }[] = []
  for (const [kind, plural, versions] of [
    ['BGPPeer', 'bgppeers', ['v1beta2', 'v1beta1']],
    ['BGPAdvertisement', 'bgpadvertisements', ['v1beta1']],
    ['BFDProfile', 'bfdprofiles', ['v1beta1']],
    ['Community', 'communities', ['v1beta1']],
  ] as const) {
    for (const o of await listKind(custom, ns, plural, versions)) bgpObjects.push({ kind, name: o.metadata?.name ?? '' })
  }
  const namespaces = (await core.listNamespace()).items.map(n => ({ name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {} }))
  let legacyConfig: string | null = null
  try {
    const cm = await core.readNamespacedConfigMap({ namespace: ns, name: 'config' })
    legacyConfig = cm.data?.config ?? null
  } catch (err) {
    if (classifyApiError(err).outcome !== 'notFound') throw err
  }
  return { ipAddressPools, l2Advertisements, bgpObjects, namespaces, legacyConfig }
}

export type ApplyOutcome = 'created' | 'updated' | 'unchanged'

/**
 * Writes the pool ConfigMap. An existing one with other content is replaced only with `overwrite`: an l2lb
 * already configured by hand is not overwritten by accident.
 */
export async function applyPoolConfigMap(kc: KubeConfig, namespace: string, name: string, configText: string, overwrite: boolean): Promise<ApplyOutcome> {
  const core = kc.makeApiClient(CoreV1Api)
  let current: string | undefined
  try {
    current = (await core.readNamespacedConfigMap({ namespace, name })).data?.config
  } catch (err) {
    if (classifyApiError(err).outcome !== 'notFound') throw err
    try {
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name, namespace }, data: { config: configText } } })
    } catch (e) {
      const c = classifyApiError(e)
      if (c.outcome === 'notFound') throw new Error(`namespace ${namespace} does not exist: install l2lb first (kubectl apply -k config/default) or create the namespace`)
      throw e
    }
    return 'created'
  }
  if (current === configText) return 'unchanged'
  if (!overwrite) throw new Error(`ConfigMap ${namespace}/${name} exists with another config: rerun with --overwrite to replace it, or without --apply to print the import`)
  await core.patchNamespacedConfigMap({ namespace, name, body: { data: { config: configText } } }, mergePatch())
  return 'updated'
}
