// The topics of Herald's chat (SPEC 3), built and taken apart in one place. Pure: no DOM, no MQTT.
//   users/{to}/{from}      direct messages (only {from} may publish, only {to} may read)
//   groups/{g}/{from}      group messages (members only)
//   presence/{u}           retained presence record of user {u} (JSON, published by the broker)
//   presence/{u}/devices   retained list of {u}'s online devices (only {u} may read)

export const directTopic = (to, from) => `users/${to}/${from}`;
export const groupTopic = (group, from) => `groups/${group}/${from}`;
export const ownPresenceTopic = (me) => `presence/${me}`;

// What a signed-in user subscribes to. The inbox and group filters cover whole streams, so the
// broker replays what arrived while this device was away (SPEC 5); presence/+ brings the retained
// records of everyone this user may see (its contacts, or everyone with visibility = "all").
export function subscriptionsFor(me, groups) {
  const subs = {
    [`users/${me}/#`]: { qos: 1 },
    'presence/+': { qos: 1 },
    [`presence/${me}/devices`]: { qos: 1 },
    // noLocal: this connection's own group messages are shown when sent, not again on return.
    'groups/+/#': { qos: 1, nl: true },
  };
  for (const g of groups) subs[`groups/${g}/#`] = { qos: 1, nl: true };
  return subs;
}

// A user id or group name as SPEC 2 allows it to be a topic level.
export function validName(name) {
  return typeof name === 'string' && name.length > 0 && new TextEncoder().encode(name).length <= 64 &&
    !/[/+#\u0000-\u001f\u007f]/.test(name) && !name.startsWith('$');
}

// Classifies an incoming topic for user `me`:
//   {kind:'direct', from}  {kind:'group', group, from}  {kind:'presence', user}
//   {kind:'devices', user}  or {kind:'other'}
export function classify(topic, me) {
  const level = topic.split('/');
  if (level[0] === 'users' && level[1] === me && level.length >= 3 && level[2] !== '') {
    return { kind: 'direct', from: level[2] };
  }
  if (level[0] === 'groups' && level.length >= 3 && level[1] !== '' && level[2] !== '') {
    return { kind: 'group', group: level[1], from: level[2] };
  }
  if (level[0] === 'presence' && level.length === 2 && level[1] !== '') {
    return { kind: 'presence', user: level[1] };
  }
  if (level[0] === 'presence' && level.length === 3 && level[2] === 'devices') {
    return { kind: 'devices', user: level[1] };
  }
  return { kind: 'other' };
}
