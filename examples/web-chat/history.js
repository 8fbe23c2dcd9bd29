// The conversations shown on the page, kept in this browser's localStorage per user. The broker
// delivers each message to a device once (its stream cursor moves when the page acknowledges
// it); what was read is kept here so that a reload still shows it. Bounded: the last
// KEEP messages of each conversation.

const KEEP = 200;

export const directKey = (user) => `u:${user}`;
export const groupKey = (group) => `g:${group}`;

export class History {
  constructor(me, storage = window.localStorage) {
    this.me = me;
    this.storage = storage;
    this.key = `herald-web-chat.history.${me}`;
    this.convs = new Map();   // key -> {kind, name, messages: [], unread}
    this.seen = new Set();    // "stream:seq" of every stored incoming message (replays are dropped)
    this.load();
  }

  load() {
    let saved = {};
    try {
      saved = JSON.parse(this.storage.getItem(this.key) || '{}') || {};
    } catch {
      saved = {};
    }
    for (const [key, c] of Object.entries(saved)) {
      if (!c || !Array.isArray(c.messages)) continue;
      for (const m of c.messages) {
        if (m.state === 'pending') {
          m.state = 'failed';
          m.error = 'the page closed before the server acknowledged it';
        }
        if (m.stream && m.seq) this.seen.add(`${m.stream}:${m.seq}`);
      }
      this.convs.set(key, { kind: c.kind, name: c.name, messages: c.messages, unread: c.unread || 0 });
    }
  }

  save() {
    const out = {};
    for (const [key, c] of this.convs) out[key] = { ...c, messages: c.messages.slice(-KEEP) };
    try {
      this.storage.setItem(this.key, JSON.stringify(out));
    } catch {
      // Storage full or denied: the conversation still works, it is just not kept.
    }
  }

  conv(kind, name) {
    const key = kind === 'group' ? groupKey(name) : directKey(name);
    let c = this.convs.get(key);
    if (!c) {
      c = { kind, name, messages: [], unread: 0 };
      this.convs.set(key, c);
    }
    return c;
  }

  // Adds a message; returns false when it is a replay of one already stored.
  add(kind, name, message) {
    if (message.stream && message.seq) {
      const id = `${message.stream}:${message.seq}`;
      if (this.seen.has(id)) return false;
      this.seen.add(id);
    }
    const c = this.conv(kind, name);
    c.messages.push(message);
    if (c.messages.length > KEEP * 2) c.messages.splice(0, c.messages.length - KEEP);
    this.save();
    return true;
  }

  // A message of this user's coming back from the broker (a group message replayed to the device
  // that sent it): when it is one this page sent and still holds without a seq, it takes the seq
  // (true: nothing new to show).
  claimOwn(kind, name, message) {
    const c = this.convs.get(kind === 'group' ? groupKey(name) : directKey(name));
    if (!c || !message.seq) return false;
    const mine = c.messages.find((m) => m.dir === 'out' && !m.seq && m.state === 'sent' && m.text === message.text);
    if (!mine) return false;
    mine.seq = message.seq;
    mine.stream = message.stream;
    this.seen.add(`${message.stream}:${message.seq}`);
    this.save();
    return true;
  }

  forget(kind, name) {
    this.convs.delete(kind === 'group' ? groupKey(name) : directKey(name));
    this.save();
  }

  groups() {
    return [...this.convs.values()].filter((c) => c.kind === 'group').map((c) => c.name);
  }
}
