import t from 'tap'
import { WaitingServices } from '../../controller/core/waiting-services.js'

t.test('a failure is news once per distinct message, until the Service stops waiting', async t => {
  const w = new WaitingServices()
  t.equal(w.report('ns/a', 'no free address in pool p'), true, 'first failure: record the Event')
  t.equal(w.report('ns/a', 'no free address in pool p'), false, 'the same failure again: no Event')
  t.equal(w.report('ns/a', 'pool p is not allowed in namespace ns'), true, 'another reason: record it')
  w.clear('ns/a')
  t.equal(w.report('ns/a', 'pool p is not allowed in namespace ns'), true, 'waiting anew after it got an address')
})

t.test('anyBesides counts the waiting Services other than the one asking', async t => {
  const w = new WaitingServices()
  t.equal(w.anyBesides('ns/a'), false)
  w.report('ns/a', 'x')
  t.equal(w.anyBesides('ns/a'), false, 'only itself waits')
  t.equal(w.anyBesides('ns/b'), true)
  w.report('ns/b', 'y')
  t.equal(w.anyBesides('ns/a'), true)
  w.clear('ns/b')
  w.clear('ns/b')
  t.equal(w.anyBesides('ns/a'), false, 'clearing twice is harmless')
})
