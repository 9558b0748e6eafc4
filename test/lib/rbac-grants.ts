// The RBAC rules shipped in config/default/rbac.yaml, evaluated for the stand-in API server the way the real
// one evaluates them (rules of the Roles and ClusterRoles bound to l2lb-system's ServiceAccounts; a RoleBinding
// grants only in its namespace). The real server needs none of this: it enforces the applied objects itself.
import { readFileSync } from 'node:fs'
import { loadAll } from 'js-yaml'
import type { Authorizer, ResourceAttributes, User } from '../apiserver/server.js'

interface Rule { apiGroups: string[]; resources: string[]; verbs: string[] }
export interface Grant { readonly user: string; readonly namespace: string | null; readonly rules: readonly Rule[] }

export const RBAC_MANIFEST = new URL('../../config/default/rbac.yaml', import.meta.url)

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}

/** Reads Roles/ClusterRoles and their bindings to ServiceAccounts (namespace l2lb-system by default). */
export function grantsFrom(yamlText: string, namespace = 'l2lb-system'): Grant[] {
  const docs = loadAll(yamlText).filter(isRecord)
  const roles = new Map<string, Rule[]>()
  for (const d of docs) {
    if (d.kind !== 'Role' && d.kind !== 'ClusterRole') continue
    const meta = isRecord(d.metadata) ? d.metadata : {}
    const rules = (Array.isArray(d.rules) ? d.rules : []).filter(isRecord)
      .map(r => ({ apiGroups: strings(r.apiGroups), resources: strings(r.resources), verbs: strings(r.verbs) }))
    roles.set(`${d.kind}/${String(meta.name)}`, rules)
  }
  const grants: Grant[] = []
  for (const d of docs) {
    if (d.kind !== 'RoleBinding' && d.kind !== 'ClusterRoleBinding') continue
    const ref = isRecord(d.roleRef) ? d.roleRef : {}
    const rules = roles.get(`${String(ref.kind)}/${String(ref.name)}`) ?? []
    for (const s of (Array.isArray(d.subjects) ? d.subjects : []).filter(isRecord)) {
      grants.push({
        user: `system:serviceaccount:${String(s.namespace ?? namespace)}:${String(s.name)}`,
        namespace: d.kind === 'RoleBinding' ? namespace : null,
        rules,
      })
    }
  }
  return grants
}

export function allowedBy(grants: readonly Grant[], user: User, verb: string, r: ResourceAttributes): boolean {
  if (r.resource === '') return true // discovery, /version: every authenticated user may read them
  const resource = r.subresource ? `${r.resource}/${r.subresource}` : r.resource
  return grants.some(g => g.user === user.name && (g.namespace === null || g.namespace === r.namespace) &&
    g.rules.some(rule => rule.apiGroups.includes(r.group) && rule.resources.includes(resource) && rule.verbs.includes(verb)))
}

/** An authorizer for the stand-in: system:masters may do anything, the shipped ServiceAccounts what rbac.yaml grants. */
export function shippedRbacAuthorizer(): Authorizer {
  const grants = grantsFrom(readFileSync(RBAC_MANIFEST, 'utf8'))
  const governed = new Set(grants.map(g => g.user))
  return (user, verb, r) => user.groups.includes('system:masters') || !governed.has(user.name) || allowedBy(grants, user, verb, r)
}
