// metav1.Status failures shaped exactly like the real server's (see the golden error-*.txt files).
import { goQuote } from './gofmt.js'
import type { JsonObject } from './json.js'

export interface StatusCause { readonly reason: string, readonly message: string, readonly field: string }

export class ApiError extends Error {
  readonly code: number
  readonly status: JsonObject
  constructor (code: number, reason: string, message: string, details?: JsonObject) {
    super(message)
    this.code = code
    const status: JsonObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason }
    if (details !== undefined) status.details = details
    status.code = code
    this.status = status
  }
}

/** `details` as the server writes it: name, group (only for non-core groups), kind (the resource), uid. */
function details (resource: string, group: string, name: string): JsonObject {
  const d: JsonObject = { name }
  if (group !== '') d.group = group
  d.kind = resource
  return d
}

export function notFound (resource: string, group: string, name: string): ApiError {
  const qualified = group === '' ? resource : `${resource}.${group}`
  return new ApiError(404, 'NotFound', `${qualified} "${name}" not found`, details(resource, group, name))
}

export function alreadyExists (resource: string, group: string, name: string): ApiError {
  const qualified = group === '' ? resource : `${resource}.${group}`
  return new ApiError(409, 'AlreadyExists', `${qualified} "${name}" already exists`, details(resource, group, name))
}

export function conflict (resource: string, group: string, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError {
  const qualified = group === '' ? resource : `${resource}.${group}`
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified} "${name}": ${why}`, details(resource, group, name))
}

/**
 * A storage precondition that failed (the etcd3 store's Preconditions.Check): the uid a PUT body carries is not
 * the stored object's ('' when there is none). `key` is the etcd key.
 */
export function storageUidPreconditionFailed (resource: string, group: string, name: string, key: string, want: string, have: string): ApiError {
  return conflict(resource, group, name, `StorageError: invalid object, Code: 4, Key: ${key}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: ${want}, UID in object meta: ${have}`)
}

/**
 * A DELETE precondition that failed in rest.BeforeDelete: the conflict is named by the Kind (`Service`,
 * `EndpointSlice.discovery.k8s.io`), not the resource (golden delete-precondition-*-409.txt).
 */
export function deletePreconditionFailed (kind: string, group: string, name: string, field: 'UID' | 'ResourceVersion', want: string, have: string): ApiError {
  const qualified = group === '' ? kind : `${kind}.${group}`
  const why = field === 'UID'
    ? `the UID in the precondition (${want}) does not match the UID in record (${have}). The object might have been deleted and then recreated`
    : `the ResourceVersion in the precondition (${want}) does not match the ResourceVersion in record (${have}). The object might have been modified`
  const d: JsonObject = { name }
  if (group !== '') d.group = group
  d.kind = kind
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified} "${name}": ${why}`, d)
}

export function badRequest (message: string): ApiError {
  return new ApiError(400, 'BadRequest', message)
}

/**
 * A body the Go types cannot decode (a wrongly typed value, a timestamp that does not parse): the 400
 * `<Kind> in version "<v>" cannot be handled as a <Kind>: <detail>` of a create or update. `detail` is the
 * decoder's own error, which a patch reports instead (see invalidPatch).
 */
export class DecodeError extends ApiError {
  readonly detail: string
  constructor (message: string, detail: string) {
    super(400, 'BadRequest', message)
    this.detail = detail
  }
}

/**
 * A patch whose result does not decode: apiserver's patcher answers 422 Invalid with one cause on the
 * field `patch`, the patched document as the value (errors.NewInvalid with an empty GroupKind and name).
 */
export function invalidPatch (patched: string, detail: string): ApiError {
  const message = `Invalid value: ${goQuote(patched)}: ${detail}`
  return new ApiError(422, 'Invalid', ` "" is invalid: patch: ${message}`, { causes: [{ reason: 'FieldValueInvalid', message, field: 'patch' }] })
}

export function methodNotAllowed (message = 'the server does not allow this method on the requested resource'): ApiError {
  return new ApiError(405, 'MethodNotAllowed', message, {})
}

export function unsupportedMediaType (): ApiError {
  return new ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json', {})
}

export function expired (message: string): ApiError {
  return new ApiError(410, 'Expired', message)
}

export function gone (message: string): ApiError {
  return new ApiError(410, 'Gone', message)
}

export function unauthorized (): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized')
}

export function forbidden (user: string, verb: string, resource: string, subresource: string, group: string, namespace: string, name: string): ApiError {
  const scope = namespace === '' ? 'at the cluster scope' : `in the namespace "${namespace}"`
  const qualified = group === '' ? resource : `${resource}.${group}`
  const what = name === '' ? qualified : `${qualified} "${name}"`
  const full = subresource === '' ? resource : `${resource}/${subresource}`
  return new ApiError(403, 'Forbidden', `${what} is forbidden: User "${user}" cannot ${verb} resource "${full}" in API group "${group}" ${scope}`, details(resource, group, name))
}

export function pathNotFound (): ApiError {
  // The real server answers unknown paths with this bare 404 Status.
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {})
}

/**
 * 422 Invalid: `Kind "name" is invalid: <field>: <message>` or `[a, b]` when several causes. The message names
 * each distinct cause once (field.ErrorList.ToAggregate); `details.causes` keeps them all.
 */
export function invalid (kind: string, name: string, group: string, causes: readonly StatusCause[]): ApiError {
  const parts = [...new Set(causes.map(c => `${c.field}: ${c.message}`))]
  const summary = parts.length === 1 ? parts[0] ?? '' : `[${parts.join(', ')}]`
  const qualifiedKind = group === '' ? kind : `${kind}.${group}`
  const d: JsonObject = { name }
  if (group !== '') d.group = group
  d.kind = kind
  d.causes = causes.map(c => ({ reason: c.reason, message: c.message, field: c.field }))
  return new ApiError(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${summary}`, d)
}

/** Go's %v rendering of a rejected value inside "Invalid value: ..." messages: strings are quoted. */
export function showValue (v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  if (v === null || v === undefined) return 'null'
  return JSON.stringify(v)
}

export function fieldInvalid (field: string, value: unknown, detail: string): StatusCause {
  return { reason: 'FieldValueInvalid', field, message: `Invalid value: ${showValue(value)}: ${detail}` }
}

export function fieldRequired (field: string, detail = ''): StatusCause {
  return { reason: 'FieldValueRequired', field, message: detail === '' ? 'Required value' : `Required value: ${detail}` }
}

export function fieldUnsupported (field: string, value: unknown, supported: readonly string[]): StatusCause {
  return { reason: 'FieldValueNotSupported', field, message: `Unsupported value: ${showValue(value)}: supported values: ${supported.map(s => `"${s}"`).join(', ')}` }
}

export function fieldDuplicate (field: string, value: unknown): StatusCause {
  return { reason: 'FieldValueDuplicate', field, message: `Duplicate value: ${showValue(value)}` }
}

export function fieldForbidden (field: string, detail: string): StatusCause {
  return { reason: 'FieldValueForbidden', field, message: `Forbidden: ${detail}` }
}

export function fieldImmutable (field: string, value: unknown): StatusCause {
  return { reason: 'FieldValueInvalid', field, message: `Invalid value: ${showValue(value)}: field is immutable` }
}
