// The page: sign-in, the contact list with live presence, groups, the user's own devices, and
// one conversation at a time. Wires the DOM to ChatConnection (connection.js); what each topic
// means is in topics.js, presence records in presence.js, kept conversations in history.js.
import { ChatConnection, brokerUrl, deviceId } from './connection.js';
import { classify, directTopic, groupTopic, validName } from './topics.js';
import { PresenceBook, ago, clock, statusLine } from './presence.js';
import { History, directKey, groupKey } from './history.js';

const $ = (id) => document.getElementById(id);
const LAST_USER = 'herald-web-chat.last-user';

let me = '';
let conn = null;
let presence = new PresenceBook();
let history = null;
let current = null;          // {kind: 'direct'|'group', name}
let devices = [];            // this user's online devices (presence/{me}/devices)

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function notice(text) {
  $('notice').textContent = text || '';
  $('notice').hidden = !text;
}

// A user property of a 5.0 PUBLISH (MQTT.js gives a string, or an array when repeated).
function userProp(props, name) {
  const v = props.userProperties && props.userProperties[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

// ---------------------------------------------------------------- sign-in

function signIn(event) {
  event.preventDefault();
  const user = $('login-username').value.trim();
  const password = $('login-password').value;
  $('login-error').textContent = '';
  if (!validName(user)) {
    $('login-error').textContent = 'A user name is 1 to 64 bytes, without / + # or a leading $.';
    return;
  }
  if (conn) conn.end(true);
  localStorage.setItem(LAST_USER, user);
  me = user;
  presence = new PresenceBook();
  history = new History(me);
  devices = [];
  current = null;
  $('login-button').disabled = true;
  $('login-error').textContent = 'Connecting…';
  conn = new ChatConnection({
    url: brokerUrl(),
    username: user,
    password,
    clientId: deviceId(user),
    groups: history.groups(),
    handlers: { state: onState, message: onMessage, subscribed: onSubscribed },
  });
}

function signOut() {
  if (conn) conn.end(false);  // DISCONNECT: offline at once
  conn = null;
  showLogin('Signed out.');
}

function showLogin(text) {
  $('chat-view').hidden = true;
  $('account').hidden = true;
  $('login-view').hidden = false;
  $('login-button').disabled = false;
  $('login-error').textContent = text || '';
}

function showChat() {
  $('login-view').hidden = true;
  $('chat-view').hidden = false;
  $('account').hidden = false;
  $('me').textContent = me;
  $('login-error').textContent = '';
  renderAll();
}

function onState(state, detail) {
  const badge = $('connection-state');
  badge.dataset.state = state;
  badge.textContent = { online: 'online', connecting: 'connecting…', reconnecting: 'reconnecting…' }[state] || state;
  if (state === 'online') {
    $('login-button').disabled = false;
    notice('');
    showChat();
  } else if (state === 'refused') {
    conn = null;
    showLogin(detail);
  } else if (state === 'ended') {
    conn = null;
    showLogin(detail);
  } else if (state === 'reconnecting') {
    notice(`Connection lost (${detail}); reconnecting…`);
  } else if (state === 'error') {
    if ($('chat-view').hidden) $('login-error').textContent = `Cannot connect: ${detail}`;
    else notice(detail);
  }
}

function onSubscribed(filter, code) {
  if (code < 0x80) return;
  const m = /^groups\/([^/]+)\/#$/.exec(filter);
  if (!m) {
    notice(`Subscription to ${filter} refused (0x${code.toString(16)}).`);
    return;
  }
  // Not a member (or no such group): forget it unless it holds messages from earlier.
  const group = m[1];
  conn.leaveGroup(group);
  if (history.conv('group', group).messages.length === 0) history.forget('group', group);
  if (current && current.kind === 'group' && current.name === group) current = null;
  notice(`You are not a member of group ${group} (subscription refused).`);
  renderAll();
}

// ---------------------------------------------------------------- incoming

function onMessage(topic, text, props) {
  const what = classify(topic, me);
  if (what.kind === 'presence') {
    presence.update(what.user, text);
    if (what.user === me) renderOwnStatus();
    renderContacts();
    if (current) renderTitle();
  } else if (what.kind === 'devices' && what.user === me) {
    try {
      devices = text ? JSON.parse(text).devices || [] : [];
    } catch {
      devices = [];
    }
    renderDevices();
  } else if (what.kind === 'direct' || what.kind === 'group') {
    const ts = Number(userProp(props, 'ts')) || Date.now();
    const seq = Number(userProp(props, 'seq')) || 0;
    const kind = what.kind;
    const name = kind === 'group' ? what.group : what.from;
    const message = {
      dir: what.from === me ? 'out' : 'in',
      from: what.from,
      text,
      ts,
      seq,
      stream: kind === 'group' ? `groups/${what.group}` : `users/${me}`,
      // Sent before this sign-in: it waited in the stream for this device (SPEC 5).
      offline: conn !== null && ts < conn.connectedAt,
      state: 'received',
    };
    if (message.dir === 'out' && history.claimOwn(kind, name, message)) return;
    if (!history.add(kind, name, message)) return;
    const isCurrent = current && current.kind === kind && current.name === name;
    if (message.dir === 'in' && (!isCurrent || document.hidden)) {
      history.conv(kind, name).unread += 1;
      history.save();
    }
    if (isCurrent) appendMessage(message);
    renderContacts();
    renderGroups();
  }
}

// ---------------------------------------------------------------- outgoing

function send(event) {
  event.preventDefault();
  const input = $('message-input');
  const text = input.value;
  if (!current || !conn || text.trim() === '') return;
  const topic = current.kind === 'group' ? groupTopic(current.name, me) : directTopic(current.name, me);
  const message = { dir: 'out', from: me, text, ts: Date.now(), state: 'pending' };
  history.add(current.kind, current.name, message);
  const node = appendMessage(message);
  input.value = '';
  conn.publish(topic, text, (error) => {
    message.state = error ? 'failed' : 'sent';
    if (error) message.error = error;
    history.save();
    updateMessageState(node, message);
  });
}

function setStatus(event) {
  event.preventDefault();
  if (!conn) return;
  conn.setStatus(me, $('status-select').value, $('status-text').value, (error) => {
    notice(error ? `Status not set: ${error}` : '');
  });
}

function open(kind, name) {
  if (!validName(name) || (kind === 'direct' && name === me)) {
    notice(`Not a valid ${kind === 'group' ? 'group' : 'user'} name: ${name}`);
    return;
  }
  current = { kind, name };
  const c = history.conv(kind, name);
  c.unread = 0;
  history.save();
  if (kind === 'group') conn.joinGroup(name);
  $('message-input').disabled = false;
  $('send-button').disabled = false;
  renderAll();
  $('message-input').focus();
}

// ---------------------------------------------------------------- rendering

function renderAll() {
  renderOwnStatus();
  renderContacts();
  renderGroups();
  renderDevices();
  renderConversation();
}

function renderOwnStatus() {
  const rec = presence.get(me);
  if (!rec) return;
  const form = $('status-form');
  if (form.contains(document.activeElement)) return;  // do not overwrite what is being typed
  $('status-select').value = rec.status || 'available';
  $('status-text').value = rec.text || '';
}

function presenceDetail(rec) {
  if (!rec) return 'presence unknown';
  if (rec.state === 'online') {
    const s = statusLine(rec);
    return s ? `online · ${s}` : 'online';
  }
  const s = statusLine(rec);
  return `last seen ${clock(rec.last_seen)} (${ago(rec.last_seen)})${s ? ` · ${s}` : ''}`;
}

function renderContacts() {
  if (!history) return;
  const names = new Set(presence.users());
  for (const c of history.convs.values()) if (c.kind === 'direct') names.add(c.name);
  names.delete(me);
  const rank = (u) => (presence.get(u) && presence.get(u).state === 'online' ? 0 : 1);
  const sorted = [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const list = $('contacts');
  list.replaceChildren(...sorted.map((user) => {
    const rec = presence.get(user);
    const state = rec ? rec.state : 'unknown';
    const unread = history.conv('direct', user).unread;
    const selected = current && current.kind === 'direct' && current.name === user;
    return el('li', {
      'data-testid': `contact-${user}`, 'data-user': user, 'data-state': state,
      'data-status': rec ? rec.status || 'available' : '', 'data-last-seen': rec ? rec.last_seen : '',
      class: `contact ${state}${selected ? ' selected' : ''}`, onclick: () => open('direct', user),
    },
    el('span', { class: 'dot', title: state }),
    el('span', { class: 'name' }, user),
    unread ? el('span', { class: 'badge', 'data-testid': 'unread' }, String(unread)) : null,
    el('span', { class: 'detail', 'data-testid': 'contact-detail' }, presenceDetail(rec)));
  }));
  if (sorted.length === 0) list.append(el('li', { class: 'empty' }, 'Nobody visible yet.'));
}

function renderGroups() {
  if (!history) return;
  const groups = history.groups().sort();
  $('groups').replaceChildren(...groups.map((g) => {
    const unread = history.conv('group', g).unread;
    const selected = current && current.kind === 'group' && current.name === g;
    return el('li', { 'data-testid': `group-${g}`, 'data-group': g, class: `group${selected ? ' selected' : ''}`, onclick: () => open('group', g) },
      el('span', { class: 'name' }, `# ${g}`),
      unread ? el('span', { class: 'badge', 'data-testid': 'unread' }, String(unread)) : null);
  }));
}

function renderDevices() {
  const mine = conn ? conn.clientId : '';
  $('devices').replaceChildren(...devices.map((d) => el('li', {
    'data-testid': `device-${d.client_id}`, 'data-client-id': d.client_id,
    class: d.client_id === mine ? 'device this' : 'device',
  },
  el('span', { class: 'name' }, d.client_id + (d.client_id === mine ? ' (this browser)' : '')),
  el('span', { class: 'detail' }, `${d.transport || '?'} · MQTT ${d.protocol === 5 ? '5' : d.protocol === 4 ? '3.1.1' : d.protocol} · since ${clock(d.since)}`))));
}

function renderTitle() {
  const title = $('conversation-title');
  if (!current) {
    title.textContent = 'Pick a contact or a group';
    return;
  }
  if (current.kind === 'group') {
    title.textContent = `# ${current.name}`;
  } else {
    const rec = presence.get(current.name);
    title.replaceChildren(el('span', {}, current.name),
      el('small', { 'data-testid': 'conversation-presence' }, ` ${presenceDetail(rec)}`));
  }
}

function renderConversation() {
  renderTitle();
  const list = $('messages');
  list.replaceChildren();
  if (!current) return;
  for (const m of history.conv(current.kind, current.name).messages) appendMessage(m);
}

function stateText(m) {
  if (m.state === 'pending') return 'sending…';
  if (m.state === 'sent') return '✓ delivered to the server';
  if (m.state === 'failed') return `not sent: ${m.error || 'error'}`;
  return '';
}

function updateMessageState(node, m) {
  node.dataset.state = m.state;
  const s = node.querySelector('.state');
  if (s) s.textContent = stateText(m);
}

function appendMessage(m) {
  const node = el('li', {
    'data-testid': 'message', 'data-dir': m.dir, 'data-from': m.from, 'data-state': m.state,
    'data-offline': m.offline ? 'true' : 'false', class: `message ${m.dir}`,
  },
  el('div', { class: 'meta' }, `${m.dir === 'out' ? 'you' : m.from} · ${clock(m.ts)}`,
    m.offline ? el('span', { class: 'offline-tag', 'data-testid': 'offline-tag' }, ' · while you were away') : null),
  el('div', { class: 'text', 'data-testid': 'message-text' }, m.text),
  m.dir === 'out' && m.state !== 'received' ? el('div', { class: 'state' }, stateText(m)) : null);
  const list = $('messages');
  list.append(node);
  list.scrollTop = list.scrollHeight;
  return node;
}

// ---------------------------------------------------------------- start

$('broker-url').textContent = brokerUrl();
$('login-username').value = localStorage.getItem(LAST_USER) || '';
$('login-form').addEventListener('submit', signIn);
$('sign-out').addEventListener('click', signOut);
$('composer').addEventListener('submit', send);
$('status-form').addEventListener('submit', setStatus);
$('direct-form').addEventListener('submit', (e) => {
  e.preventDefault();
  open('direct', $('direct-input').value.trim());
  $('direct-input').value = '';
});
$('group-form').addEventListener('submit', (e) => {
  e.preventDefault();
  open('group', $('group-input').value.trim());
  $('group-input').value = '';
});
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && current && history) {
    history.conv(current.kind, current.name).unread = 0;
    history.save();
    renderContacts();
    renderGroups();
  }
});
setInterval(() => { if (history) renderContacts(); }, 30000);  // "5 min ago" moves on
document.body.dataset.ready = 'true';
