// `npm run fakes`: the fake Insightly and a callback sink on fixed ports, for trying the API by hand
// without provider accounts. Every 20 s it creates one contact and updates one account.
import { CallbackSink } from './callback-sink';
import { FakeInsightly } from './insightly';

async function main() {
  const apiKey = process.env.FAKE_INSIGHTLY_API_KEY ?? 'xxxxxxxxxxxxxxxxxxxxxxxx';
  const insightly = new FakeInsightly(apiKey);
  await insightly.start(Number(process.env.FAKE_INSIGHTLY_PORT ?? 4010));
  const sink = new CallbackSink();
  await sink.start(Number(process.env.FAKE_CALLBACK_PORT ?? 4011));
  const account = insightly.create('Organisations', { ORGANISATION_NAME: 'Acme' }, Date.now() - 86_400_000);
  let n = 0;
  setInterval(() => {
    insightly.create('Contacts', { FIRST_NAME: `Contact ${++n}` });
    insightly.update('Organisations', account.ORGANISATION_ID as number, { ORGANISATION_NAME: `Acme ${n}` });
  }, 20_000);
  let seen = 0;
  setInterval(() => {
    for (const r of sink.received.slice(seen)) console.log(`callback received: ${JSON.stringify(r.body.message.events)}`);
    seen = sink.received.length;
  }, 1000);
  console.log(`fake Insightly: ${insightly.url}  (API key "${apiKey}"; start the app with INSIGHTLY_API_URL=${insightly.url})`);
  console.log(`callback sink:  ${sink.url}`);
}

void main();
