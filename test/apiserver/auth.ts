// Authentication and the authorization seam. Today every authenticated user may do everything (what a
// cluster-admin token gets); RBAC enforcement plugs in by passing another `authorize` to startApiServer.

export interface User { readonly name: string, readonly groups: readonly string[] }

/** What is being accessed. Non-resource requests (discovery, /version, /openapi) have an empty resource. */
export interface ResourceAttributes {
  readonly group: string
  readonly resource: string
  readonly subresource: string
  /** Empty for cluster-scoped resources and cluster-wide lists. */
  readonly namespace: string
  /** Empty for collections. */
  readonly name: string
  /** The request path, for non-resource rules. */
  readonly path: string
}

/** Kubernetes verbs: get, list, watch, create, update, patch, delete, deletecollection (non-resource: the HTTP method, lower case). */
export type Authorizer = (user: User, verb: string, resource: ResourceAttributes) => boolean

/** The default authorizer: allows everything. */
export function authorize (_user: User, _verb: string, _resource: ResourceAttributes): boolean {
  return true
}

export const ANONYMOUS: User = { name: 'system:anonymous', groups: ['system:unauthenticated'] }

/** Bearer-token authentication: the user the token belongs to, or undefined (401). */
export function authenticate (authorization: string | undefined, tokens: ReadonlyMap<string, User>): User | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')
  return m === null ? undefined : tokens.get(m[1] ?? '')
}
