// The CLI as the lab runs it: one JSON line when ready, a usable kubeconfig, a clean exit on SIGTERM.
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

t.test('main.ts prints its URL, writes a kubeconfig and stops on SIGTERM', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'l2lb-apiserver-main-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const kubeconfig = join(dir, 'kubeconfig')
  const main = fileURLToPath(new URL('./main.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', main, '--port', '0', '--token', 'secret-token', '--kubeconfig', kubeconfig, '--cert-dir', join(dir, 'certs')], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`no ready line within 30 s; stderr: ${stderr}`)), 30_000)
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      const i = out.indexOf('\n')
      if (i >= 0) { clearTimeout(timer); resolve(out.slice(0, i)) }
    })
    child.on('exit', code => { clearTimeout(timer); reject(new Error(`exited with ${String(code)}: ${stderr}`)) })
  })
  const ready: unknown = JSON.parse(line)
  t.match(ready, { url: /^https:\/\/127\.0\.0\.1:\d+$/, token: 'secret-token' })
  const kc = JSON.parse(await readFile(kubeconfig, 'utf8'))
  t.equal(kc.clusters[0].cluster.server, typeof ready === 'object' && ready !== null && 'url' in ready ? ready.url : '')
  t.equal(kc.users[0].user.token, 'secret-token')
  const ca = Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64').toString()
  t.equal(ca, await readFile(join(dir, 'certs', 'ca.crt'), 'utf8'), 'the kubeconfig carries the CA that signed the serving certificate')
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'exits 0 on SIGTERM')
})
