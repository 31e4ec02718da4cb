// e2e/browser/device-certificate.case.ts — the Chromium half of device-certificate.test.ts, run in a child process
// started with NODE_EXTRA_CA_CERTS: Playwright presents client certificates through a proxy in this process, and
// that proxy verifies the server's certificate against node's CA store, so the test server CA is trusted there
// (nothing is ignored). Prints one JSON line with what each browser context saw.
import { launchBrowser, newContext } from './support.js';

interface Input {
  origin: string;
  certPath: string;
  keyPath: string;
  cookie: { name: string; value: string };
}

const input = JSON.parse(process.argv[2]!) as Input;
const browser = await launchBrowser();
const result: Record<string, { status: number; text: string }> = {};
try {
  for (const [name, withCert] of [['withCertificate', true], ['withoutCertificate', false]] as const) {
    const context = await newContext(browser, withCert ? { clientCertificates: [{ origin: input.origin, certPath: input.certPath, keyPath: input.keyPath }] } : { ignoreHTTPSErrors: false });
    try {
      await context.addCookies([{ ...input.cookie, url: input.origin, secure: true, httpOnly: true, sameSite: 'Lax' }]);
      const page = await context.newPage();
      const response = await page.goto(`${input.origin}/device/report`);
      result[name] = { status: response?.status() ?? 0, text: await page.locator('body').innerText() };
    } finally {
      await context.close();
    }
  }
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
