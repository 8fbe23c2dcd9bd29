// What this page knows of others' presence: the latest record per user (SPEC 4), stale events
// dropped by `seq`, and how a record reads to a person ("online · away: lunch", "last seen 5 min ago").

export class PresenceBook {
  constructor() {
    this.records = new Map();  // user -> record as published by the broker
  }

  // Takes a presence/{user} payload. Returns the record when it is news, null when stale or
  // unreadable; an empty payload (retained record cleared) forgets the user.
  update(user, payloadText) {
    if (payloadText === '') {
      const had = this.records.delete(user);
      return had ? { user, removed: true } : null;
    }
    let rec;
    try {
      rec = JSON.parse(payloadText);
    } catch {
      return null;
    }
    if (!rec || typeof rec !== 'object' || (rec.state !== 'online' && rec.state !== 'offline')) return null;
    const old = this.records.get(user);
    // seq grows by one on every change of the user's presence: an older one is a stale event.
    if (old && typeof rec.seq === 'number' && typeof old.seq === 'number' && rec.seq < old.seq) return null;
    rec.user = user;
    this.records.set(user, rec);
    return rec;
  }

  get(user) {
    return this.records.get(user);
  }

  users() {
    return [...this.records.keys()];
  }
}

// "away: In a meeting", "busy", "" (available, no text).
export function statusLine(rec) {
  if (!rec) return '';
  const status = rec.status && rec.status !== 'available' ? rec.status : '';
  const text = rec.text || '';
  if (status && text) return `${status}: ${text}`;
  return status || text;
}

// "just now", "5 min ago", "3 h ago", else a date.
export function ago(ms, now = Date.now()) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(ms).toLocaleDateString();
}

export function clock(ms) {
  return ms ? new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '';
}
