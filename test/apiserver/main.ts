// CLI: starts the stand-in API server and prints one JSON line `{"url":...}` once it is ready.
//   node --import tsx test/apiserver/main.ts [--host H] [--port P] [--token T] [--kubeconfig PATH] [--cert-dir DIR]
import { parseArgs } from 'node:util'
import { startApiServer } from './server.js'

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      token: { type: 'string' },
      kubeconfig: { type: 'string' },
      'cert-dir': { type: 'string' },
      'history-limit': { type: 'string' }
    },
    strict: true
  })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: not a port: ${values.port ?? ''}`)
  const historyLimit = values['history-limit'] === undefined ? undefined : Number(values['history-limit'])
  const server = await startApiServer({
    host: values.host,
    port,
    ...(values.token === undefined ? {} : { token: values.token }),
    ...(values['cert-dir'] === undefined ? {} : { certDir: values['cert-dir'] }),
    ...(historyLimit === undefined ? {} : { historyLimit })
  })
  if (values.kubeconfig !== undefined) await server.writeKubeconfig(values.kubeconfig)
  process.stdout.write(JSON.stringify({ url: server.url, host: server.host, port: server.port, token: server.token, caFile: server.caFile, kubeconfig: values.kubeconfig ?? null }) + '\n')
  let closing = false
  const stop = (): void => {
    if (closing) return
    closing = true
    server.close().then(() => process.exit(0), (e: unknown) => { process.stderr.write(`close failed: ${String(e)}\n`); process.exit(1) })
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((e: unknown) => {
  process.stderr.write(`apiserver: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
  process.exit(1)
})
