import http from 'node:http';
import { launchBrowser, newContext, watchCsp } from '/work/main/e2e/browser/support.js';
const srv = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html', 'content-security-policy': "default-src 'none'; form-action 'self'" });
  res.end('<p>x</p><style>p{color:red}</style><form method=post action="http://other.localhost:1/x"><button>go</button></form>');
}).listen(0);
await new Promise(r => srv.once('listening', r));
const b = await launchBrowser();
const c = await newContext(b);
const p = await c.newPage();
const get = await watchCsp(p);
await p.goto(`http://127.0.0.1:${(srv.address() as any).port}/`);
await p.click('button').catch(e => console.log('click', e.message));
await p.waitForTimeout(500);
console.log(await get());
await b.close(); srv.close();
