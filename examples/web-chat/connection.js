// One signed-in device: the MQTT 5 connection over WebSocket (MQTT.js), its subscriptions, and
// what the broker says about it, turned into a few callbacks for the page.
//
// Why these choices:
// - The client id is stable per browser and user (localStorage): the broker keeps a stream
//   cursor per device (user + client id), so what arrived while this browser was away is
//   replayed at the next sign-in, and the user's other devices list shows this one by name.
// - Clean start: the streams (SPEC 5) are the queue of a chat, and they replay for clean
//   sessions too, so no broker session needs to outlive the page.
// - No DISCONNECT when the tab closes: the broker sees the connection drop and keeps the user
//   online for the presence grace period, so a reload does not flap the user's presence.
//   "Sign out" sends DISCONNECT and the user goes offline at once.
import mqtt from './mqtt.esm.js';
import { subscriptionsFor } from './topics.js';

// MQTT 5 reason codes a person may meet here (CONNACK, DISCONNECT, PUBACK, SUBACK).
const REASONS = {
  0x10: 'no matching subscribers', 0x80: 'unspecified error', 0x81: 'malformed packet',
  0x82: 'protocol error', 0x83: 'implementation specific error', 0x84: 'unsupported protocol version',
  0x85: 'client identifier not valid', 0x86: 'bad user name or password', 0x87: 'not authorized',
  0x88: 'server unavailable', 0x89: 'server busy', 0x8a: 'banned', 0x8b: 'server shutting down',
  0x8d: 'keep alive timeout', 0x8e: 'session taken over', 0x93: 'receive maximum exceeded',
  0x95: 'packet too large', 0x97: 'quota exceeded', 0x98: 'administrative action',
  0x99: 'payload format invalid', 0x9c: 'use another server', 0x9f: 'connection rate exceeded',
};

export function reasonText(code) {
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  return REASONS[code] ? `${REASONS[code]} (${hex})` : `reason code ${hex}`;
}

// ws(s)://<this page's host>/mqtt; ?broker=URL overrides it (a page served elsewhere).
export function brokerUrl(loc = window.location) {
  const override = new URLSearchParams(loc.search).get('broker');
  if (override) return override;
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/mqtt`;
}

// This browser's device id for `user`, made once and kept in localStorage.
export function deviceId(user, storage = window.localStorage) {
  const key = `herald-web-chat.client-id.${user}`;
  let id = storage.getItem(key);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(6));
    id = `web-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
    storage.setItem(key, id);
  }
  return id;
}

export class ChatConnection {
  // handlers: state(state, detail), message(topic, text, properties), subscribed(filter, code)
  constructor({ url, username, password, clientId, groups, handlers }) {
    this.url = url;
    this.username = username;
    this.clientId = clientId;
    this.groups = new Set(groups);
    this.h = handlers;
    this.connectedAt = 0;
    this.ended = false;
    this.everConnected = false;
    this.client = mqtt.connect(url, {
      protocolVersion: 5,
      clientId,
      username,
      password,
      clean: true,
      keepalive: 30,
      connectTimeout: 10000,
      reconnectPeriod: 2000,
      resubscribe: false,  // subscribe() below runs on every CONNACK
      properties: { sessionExpiryInterval: 0 },
    });
    this.h.state('connecting', url);
    this.client.on('connect', () => this.onConnect());
    this.client.on('message', (topic, payload, packet) =>
      this.h.message(topic, new TextDecoder().decode(payload), packet.properties || {}));
    this.client.on('error', (err) => this.onError(err));
    this.client.on('disconnect', (packet) => this.onDisconnectPacket(packet));
    this.client.on('close', () => {
      if (!this.ended) this.h.state(this.everConnected ? 'reconnecting' : 'connecting', 'connection closed');
    });
  }

  onConnect() {
    this.connectedAt = Date.now();
    this.everConnected = true;
    this.h.state('online', this.clientId);
    this.subscribe(subscriptionsFor(this.username, this.groups));
  }

  // Reports each filter's SUBACK code (a refused one, e.g. a group this user is not in, is >= 0x80).
  subscribe(subs) {
    this.client.subscribe(subs, (err, requested, packet) => {
      const granted = packet && packet.granted;
      if (!granted) {
        if (err) this.h.state('error', `subscribe failed: ${err.message}`);
        return;
      }
      (requested || []).forEach((sub, i) => this.h.subscribed(sub.topic, granted[i]));
    });
  }

  onError(err) {
    if (typeof err.code === 'number' && err.code >= 0x80) {
      // A refused CONNACK: MQTT.js does not reconnect; neither should the page (a wrong password
      // stays wrong).
      this.end(true);
      this.h.state('refused', `Sign-in refused: ${reasonText(err.code)}`);
      return;
    }
    this.h.state('error', err.message || String(err));
  }

  onDisconnectPacket(packet) {
    const code = packet.reasonCode || 0;
    const why = packet.properties && packet.properties.reasonString;
    const text = `Disconnected by the server: ${reasonText(code)}${why ? ` — ${why}` : ''}`;
    if (code === 0x8e || code === 0x98 || code === 0x8a) {
      // Taken over (this browser signed in elsewhere, or the device limit), kicked or banned:
      // reconnecting would only push the other device out again.
      this.end(true);
      this.h.state('ended', text);
    } else {
      this.h.state('reconnecting', text);
    }
  }

  // Publishes `text` at QoS 1; done(null) once the broker acknowledged it (stored, SPEC 5), or
  // done(errorText).
  publish(topic, text, done) {
    this.client.publish(topic, text, { qos: 1 }, (err) => {
      if (!err) return done(null);
      done(typeof err.code === 'number' ? reasonText(err.code) : err.message);
    });
  }

  // A group by name: subscribing to groups/{g}/# makes its stream known at once (SPEC 5).
  joinGroup(group) {
    if (this.groups.has(group)) return;
    this.groups.add(group);
    if (this.client.connected) this.subscribe({ [`groups/${group}/#`]: { qos: 1, nl: true } });
  }

  leaveGroup(group) {
    this.groups.delete(group);
  }

  setStatus(me, status, text, done) {
    this.client.publish(`presence/${me}`, JSON.stringify({ status, text }), { qos: 1 }, (err) =>
      done(err ? (typeof err.code === 'number' ? reasonText(err.code) : err.message) : null));
  }

  // Sign out: DISCONNECT, so the user goes offline at once.
  end(force = false) {
    this.ended = true;
    this.client.end(force);
  }
}
