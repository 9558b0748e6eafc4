import t from 'tap'
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { judgeIpvs } from '../../speaker/core/ipvs.js'
import { readIpvsFacts } from '../../speaker/ipvs-facts.js'

t.test('IPVS without strictARP is flagged with the fix', async t => {
  t.equal(judgeIpvs({ hasKubeIpvs0: false, arpIgnore: 0, arpAnnounce: 0 }).ok, true, 'iptables mode: nothing to say')
  t.equal(judgeIpvs({ hasKubeIpvs0: true, arpIgnore: 1, arpAnnounce: 2 }).ok, true, 'strictARP set')
  const bad = judgeIpvs({ hasKubeIpvs0: true, arpIgnore: 0, arpAnnounce: 0 })
  t.equal(bad.ok, false)
  t.match(bad.ok ? '' : bad.fix, /strictARP: true/)
  t.match(bad.reason, /arp_ignore=0, arp_announce=0/)
})

t.test('facts are read from sysfs and procfs', async t => {
  const root = mkdtempSync(join(tmpdir(), 'l2lb-ipvs-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  mkdirSync(join(root, 'net', 'kube-ipvs0'), { recursive: true })
  mkdirSync(join(root, 'conf'))
  writeFileSync(join(root, 'conf', 'arp_ignore'), '1\n')
  writeFileSync(join(root, 'conf', 'arp_announce'), '2\n')
  t.same(readIpvsFacts(join(root, 'net'), join(root, 'conf')), { hasKubeIpvs0: true, arpIgnore: 1, arpAnnounce: 2 })
  t.same(readIpvsFacts(join(root, 'missing'), join(root, 'missing')), { hasKubeIpvs0: false, arpIgnore: null, arpAnnounce: null })
})
