import { test } from 'node:test';
import { startStack, reservePort } from './helpers/stack.js';
test('dbg', async () => {
  const p = await reservePort();
  const s = await startStack({ routes: `routes:
  - name: refused
    from: http://faults.localhost:{{PORT}}
    to: http://127.0.0.1:${p}
    public: true
` });
  const r = await s.api().get(s.url('faults.localhost', '/x'));
  console.log(r.status, r.body.slice(0,100));
  await new Promise(r => setTimeout(r, 300));
  console.log(s.logs.filter(l => l.level !== 'debug' && l.event !== 'idp-discovery'));
  await s.close();
});
