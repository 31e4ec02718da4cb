// tls/acme-hand-over.test.ts — the primary's hand-over of tls.acme to workers (`workers: N`): each listener's ACME parts
// (a real certificate store and challenge responder per "worker") get every certificate, renewal and challenge
// answer before the manager's call resolves; a worker that starts later gets what is in force, nothing withdrawn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { certDir, makeCa, makeCert } from '../../../test-support/certs.js';
import { AcmeHandOver, applyAcmeUpdate, type AcmeUpdate } from './acme-hand-over.js';
import { createAcmeEdge, type AcmeEdge } from './acme-listener.js';
import { TlsContexts } from './contexts.js';

const TLS = { acme: { email: 'ops@example.com' } } as unknown as ConstructorParameters<typeof TlsContexts>[0];

function worker(): { edge: AcmeEdge; contexts: TlsContexts } {
  const contexts = new TlsContexts(TLS);
  return { edge: createAcmeEdge(contexts), contexts };
}

test('acme hand-over: certificates and renewals reach every worker before install resolves; a later worker gets the ones in force; fail closed for other names', async () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const first = makeCert(dir, ca, 'a1', ['a.test']);
  const renewed = makeCert(dir, ca, 'a2', ['a.test']);
  const workers = [worker(), worker()];
  const pending: AcmeUpdate[] = [];
  const handOver = new AcmeHandOver(async (update) => {
    pending.push(update);
    await Promise.resolve();
    for (const w of workers) applyAcmeUpdate(w.edge, update);
  });
  const serial = (w: { contexts: TlsContexts }, name: string) => w.contexts.select(name)?.certified.leaf.serialNumber;
  for (const w of workers) assert.equal(w.contexts.select('a.test'), undefined, 'nothing before the first certificate');
  await handOver.install(['a.test'], first.chainPem, first.keyPem);
  const firstSerial = serial(workers[0]!, 'a.test');
  assert.ok(firstSerial);
  assert.deepEqual(workers.map((w) => serial(w, 'a.test')), [firstSerial, firstSerial]);
  await handOver.install(['a.test'], renewed.chainPem, renewed.keyPem);
  const renewedSerial = serial(workers[0]!, 'a.test');
  assert.notEqual(renewedSerial, firstSerial);
  assert.deepEqual(workers.map((w) => serial(w, 'a.test')), [renewedSerial, renewedSerial], 'the renewal reaches every worker');
  for (const w of workers) assert.equal(w.contexts.select('other.test'), undefined, 'no certificate for another name');

  // Challenge answers: present on every worker while pending, gone after.
  await handOver.setHttp('a.test', 'T'.repeat(43), 'key-authorization');
  for (const w of workers) assert.equal(w.edge.challenges.httpAnswer('a.test', 'T'.repeat(43)), 'key-authorization');
  const late = worker();
  for (const update of handOver.snapshot()) applyAcmeUpdate(late.edge, update);
  assert.equal(serial(late, 'a.test'), renewedSerial, 'a worker started later serves the certificate in force');
  assert.equal(late.edge.challenges.httpAnswer('a.test', 'T'.repeat(43)), 'key-authorization', 'and answers the pending challenge');
  await handOver.deleteHttp('T'.repeat(43));
  for (const w of workers) assert.equal(w.edge.challenges.httpAnswer('a.test', 'T'.repeat(43)), undefined);
  assert.deepEqual(handOver.snapshot().map((u) => u.kind), ['certificate'], 'a withdrawn answer is not handed to a later worker');
  assert.equal(pending.length, 4);
  for (const w of [...workers, late]) w.contexts.close();
});

test('acme hand-over: an unusable certificate is refused by the worker (it keeps what it served)', () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const good = makeCert(dir, ca, 'good', ['a.test']);
  const other = makeCert(dir, ca, 'other', ['a.test']);
  const w = worker();
  applyAcmeUpdate(w.edge, { kind: 'certificate', hosts: ['a.test'], certPem: good.chainPem, keyPem: good.keyPem });
  const before = w.contexts.select('a.test')?.certified.leaf.serialNumber;
  assert.throws(() => applyAcmeUpdate(w.edge, { kind: 'certificate', hosts: ['a.test'], certPem: good.chainPem, keyPem: other.keyPem }));
  assert.equal(w.contexts.select('a.test')?.certified.leaf.serialNumber, before);
  w.contexts.close();
});
