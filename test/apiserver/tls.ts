// Certificates for the stand-in API server, made with the machine's `openssl` CLI so no crypto
// dependency is needed: a self-signed CA plus a server certificate whose SANs cover every address the
// tests and the lab dial (loopback v4/v6, the lab's 192.0.2.1, localhost).
import { execFile } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface ServerCerts {
  readonly caPem: string
  readonly caFile: string
  readonly certPem: string
  readonly keyPem: string
}

export const SERVER_SANS = ['IP:127.0.0.1', 'IP:192.0.2.1', 'IP:::1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default']

export async function generateCerts (dir: string): Promise<ServerCerts> {
  await mkdir(dir, { recursive: true })
  const p = (f: string): string => join(dir, f)
  // EC P-256 keys: generated in milliseconds, unlike RSA, and accepted by Go's TLS (kubectl) and Node.
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await run('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '3650',
    '-subj', '/CN=l2lb-test-apiserver-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  await run('openssl', ['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=kube-apiserver'])
  await writeFile(p('server.ext'), [
    `subjectAltName=${SERVER_SANS.join(',')}`,
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    ''
  ].join('\n'))
  await run('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'),
    '-CAcreateserial', '-out', p('server.crt'), '-days', '3650', '-extfile', p('server.ext')])
  const [caPem, certPem, keyPem] = await Promise.all([readFile(p('ca.crt'), 'utf8'), readFile(p('server.crt'), 'utf8'), readFile(p('server.key'), 'utf8')])
  return { caPem, caFile: p('ca.crt'), certPem, keyPem }
}
