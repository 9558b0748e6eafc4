// Discovery and OpenAPI documents: the golden ones of a real kube-apiserver 1.32, filtered down to the
// resources this server implements so that clients never discover something that then 404s.
import { isObject, type Json, type JsonObject } from './json.js'
import { readGolden, readGoldenFile, readGoldenJson } from './golden.js'
import type { ResourceDef } from './resources.js'

export interface DiscoveryDocs {
  readonly apiLegacy: (serverAddress: string) => JsonObject
  readonly apisLegacy: JsonObject
  readonly apiAggregated: JsonObject
  readonly apisAggregated: JsonObject
  readonly resourceLists: ReadonlyMap<string, JsonObject>
  readonly groups: ReadonlyMap<string, JsonObject>
  readonly openapiIndex: string
  readonly openapiDocs: ReadonlyMap<string, string>
}

const RESOURCE_LIST_FILES: Readonly<Record<string, string>> = {
  v1: 'api-v1-resources.txt',
  'coordination.k8s.io/v1': 'coordination-v1-resources.txt',
  'discovery.k8s.io/v1': 'discovery-v1-resources.txt',
  'events.k8s.io/v1': 'events-v1-resources.txt',
  'apiextensions.k8s.io/v1': 'apiextensions-v1-resources.txt'
}

export const OPENAPI_FILES: Readonly<Record<string, string>> = {
  'api/v1': 'openapi-v3-api-v1.json',
  'apis/coordination.k8s.io/v1': 'openapi-v3-apis-coordination-k8s-io-v1.json',
  'apis/discovery.k8s.io/v1': 'openapi-v3-apis-discovery-k8s-io-v1.json',
  'apis/events.k8s.io/v1': 'openapi-v3-apis-events-k8s-io-v1.json',
  'apis/apiextensions.k8s.io/v1': 'openapi-v3-apis-apiextensions-k8s-io-v1.json'
}

function gvOf (def: ResourceDef): string {
  return def.group === '' ? def.version : `${def.group}/${def.version}`
}

/** Names served per group/version: `services`, `services/status`, ... */
function served (defs: readonly ResourceDef[]): Map<string, Set<string>> {
  const m = new Map<string, Set<string>>()
  for (const d of defs) {
    const s = m.get(gvOf(d)) ?? new Set<string>()
    s.add(d.resource)
    if (d.hasStatus) s.add(`${d.resource}/status`)
    m.set(gvOf(d), s)
  }
  return m
}

export function loadDiscovery (dir: string, defs: readonly ResourceDef[]): DiscoveryDocs {
  const byGv = served(defs)
  const groups = new Set(defs.map(d => d.group).filter(g => g !== ''))

  const apiLegacyGolden = readGoldenJson(dir, 'api-legacy.txt')
  const apiLegacy = (serverAddress: string): JsonObject => ({
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
    ...(isObject(apiLegacyGolden) && Object.hasOwn(apiLegacyGolden, 'apiVersion') ? { apiVersion: apiLegacyGolden.apiVersion ?? null } : {})
  })

  const apisLegacyGolden = readGoldenJson(dir, 'apis-legacy.txt')
  const groupEntries = (isObject(apisLegacyGolden) && Array.isArray(apisLegacyGolden.groups) ? apisLegacyGolden.groups : [])
    .filter(isObject).filter(g => typeof g.name === 'string' && groups.has(g.name))
  const apisLegacy: JsonObject = { kind: 'APIGroupList', apiVersion: 'v1', groups: groupEntries }
  const groupDocs = new Map<string, JsonObject>()
  for (const g of groupEntries) {
    groupDocs.set(String(g.name), { kind: 'APIGroup', apiVersion: 'v1', name: g.name ?? '', versions: g.versions ?? [], preferredVersion: g.preferredVersion ?? null })
  }

  const filterAggregated = (doc: Json, keepGroup: (name: string) => boolean): JsonObject => {
    const d = isObject(doc) ? doc : {}
    const items = (Array.isArray(d.items) ? d.items : []).filter(isObject).filter(item => {
      const name = isObject(item.metadata) && typeof item.metadata.name === 'string' ? item.metadata.name : ''
      return keepGroup(name)
    }).map(item => {
      const name = isObject(item.metadata) && typeof item.metadata.name === 'string' ? item.metadata.name : ''
      const versions = (Array.isArray(item.versions) ? item.versions : []).filter(isObject).map(v => {
        const gv = name === '' ? String(v.version) : `${name}/${String(v.version)}`
        const names = byGv.get(gv) ?? new Set<string>()
        const resources = (Array.isArray(v.resources) ? v.resources : []).filter(isObject)
          .filter(r => typeof r.resource === 'string' && names.has(r.resource))
          .map(r => {
            const subs = (Array.isArray(r.subresources) ? r.subresources : []).filter(isObject)
              .filter(s => names.has(`${String(r.resource)}/${String(s.subresource)}`))
            const { subresources: _drop, ...rest } = r
            return subs.length > 0 ? { ...rest, subresources: subs } : rest
          })
        return { ...v, resources }
      }).filter(v => v.resources.length > 0)
      return { ...item, versions }
    }).filter(item => item.versions.length > 0)
    return { ...d, items }
  }
  const apiAggregated = filterAggregated(JSON.parse(readGolden(dir, 'api-aggregated.txt').body), name => name === '')
  const apisAggregated = filterAggregated(JSON.parse(readGolden(dir, 'apis-aggregated.txt').body), name => groups.has(name))

  const resourceLists = new Map<string, JsonObject>()
  for (const [gv, file] of Object.entries(RESOURCE_LIST_FILES)) {
    const doc = readGoldenJson(dir, file)
    if (!isObject(doc)) continue
    const names = byGv.get(gv) ?? new Set<string>()
    const resources = (Array.isArray(doc.resources) ? doc.resources : []).filter(isObject).filter(r => typeof r.name === 'string' && names.has(r.name))
    resourceLists.set(gv, { ...doc, resources })
  }

  const indexGolden = JSON.parse(readGolden(dir, 'openapi-v3-index.txt').body)
  const paths = isObject(indexGolden) && isObject(indexGolden.paths) ? indexGolden.paths : {}
  const keptPaths: JsonObject = {}
  for (const p of Object.keys(OPENAPI_FILES)) if (paths[p] !== undefined) keptPaths[p] = paths[p] ?? null
  const openapiDocs = new Map<string, string>()
  for (const [p, file] of Object.entries(OPENAPI_FILES)) openapiDocs.set(p, readGoldenFile(dir, file))

  return { apiLegacy, apisLegacy, apiAggregated, apisAggregated, resourceLists, groups: groupDocs, openapiIndex: JSON.stringify({ paths: keptPaths }), openapiDocs }
}
