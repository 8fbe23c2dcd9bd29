// An MQTT.js client driven line by line, for the Python integration tests (test_websocket.py).
//
// Usage: node ws_client.mjs URL '{"protocolVersion":5,"clientId":"a",...}'
// The options are MQTT.js's connect options; "caFile" (a PEM path) becomes `ca`.
// stdin: one JSON command per line:
//   {"op":"subscribe","topic":"t/#","qos":1}
//   {"op":"publish","topic":"t/1","payload":"hi","qos":1,"retain":false}
//   {"op":"end"}       a clean DISCONNECT
//   {"op":"destroy"}   the socket closed abruptly (no DISCONNECT: the will is published)
// stdout: one JSON event per line: {"event":"connect","sessionPresent":false},
//   {"event":"suback","granted":[1]}, {"event":"puback","topic":..}, {"event":"message",
//   "topic":..,"payload":..,"qos":..,"retain":..}, {"event":"error","message":..},
//   {"event":"close"}, {"event":"ended"}.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import mqtt from 'mqtt';

const [url, optionsJson] = process.argv.slice(2);
const options = JSON.parse(optionsJson || '{}');
if (options.caFile) {
  options.ca = readFileSync(options.caFile);
  delete options.caFile;
}
for (const key of ['certFile', 'keyFile']) {
  if (options[key]) {
    options[key === 'certFile' ? 'cert' : 'key'] = readFileSync(options[key]);
    delete options[key];
  }
}
if (options.will && typeof options.will.payload === 'string') {
  options.will.payload = Buffer.from(options.will.payload);
}
options.reconnectPeriod = 0;  // a test sees each failure once
options.connectTimeout = options.connectTimeout ?? 5000;

const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n');
const client = mqtt.connect(url, options);

client.on('connect', (connack) => emit({ event: 'connect', sessionPresent: !!connack.sessionPresent,
                                         reasonCode: connack.reasonCode ?? connack.returnCode ?? 0 }));
client.on('message', (topic, payload, packet) => emit({
  event: 'message', topic, payload: payload.toString(), qos: packet.qos, retain: !!packet.retain,
}));
client.on('error', (err) => emit({ event: 'error', message: String(err && err.message),
                                   code: err && err.code }));
client.on('close', () => emit({ event: 'close' }));

createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  const command = JSON.parse(line);
  switch (command.op) {
    case 'subscribe':
      client.subscribe(command.topic, { qos: command.qos ?? 0 }, (err, granted) => {
        emit(err ? { event: 'error', message: String(err.message) }
                 : { event: 'suback', granted: granted.map((g) => g.qos) });
      });
      break;
    case 'publish':
      client.publish(command.topic, command.payload ?? '',
                     { qos: command.qos ?? 0, retain: !!command.retain }, (err) => {
        emit(err ? { event: 'error', message: String(err.message) }
                 : { event: 'puback', topic: command.topic });
      });
      break;
    case 'end':
      client.end(false, {}, () => { emit({ event: 'ended' }); process.exit(0); });
      break;
    case 'destroy':
      client.stream.destroy();
      setTimeout(() => process.exit(0), 50);
      break;
    default:
      emit({ event: 'error', message: `unknown op ${command.op}` });
  }
});
