// dialerd's live page: plain DOM, no framework, no build step.
//
// The session token is kept in sessionStorage, and nothing else is stored:
// it survives a reload of the tab (an operator watching a campaign presses
// F5 and keeps watching) but not the tab itself, and no other tab or later
// visit sees it; local storage would keep it on disk for ever. In memory
// only, every reload would log out. The page's CSP allows scripts from this
// origin only, so no injected or foreign script is there to read it.
// Everything the API returns is written with textContent, never as HTML.
'use strict';

const TOKEN_KEY = 'dialerd.token';
const $ = (sel) => document.querySelector(sel);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  campaigns: new Map(), // id -> campaign as GET /campaigns answers it
  ws: null,
  wsBackoff: 1000,
  healthTimer: 0,
};

class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  if (state.token) headers['Authorization'] = 'Bearer ' + state.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!res.ok) {
    const msg = (data && data.error && data.error.message) || text || res.statusText;
    if (res.status === 401 && path !== '/authenticate') logout('Your session ended: log in again.');
    throw new APIError(res.status, res.status + ' ' + msg);
  }
  return data;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function showError(msg) { $('#error').textContent = msg || ''; }

// --- login -----------------------------------------------------------------

function showLogin(msg) {
  $('#app-view').hidden = true;
  $('#logout').hidden = true;
  $('#login-view').hidden = false;
  $('#login-error').textContent = msg || '';
  $('#password').focus();
}

async function onLogin(ev) {
  ev.preventDefault();
  $('#login-error').textContent = '';
  try {
    const ans = await api('POST', '/authenticate', { username: $('#username').value, password: $('#password').value });
    state.token = ans.token;
    sessionStorage.setItem(TOKEN_KEY, ans.token);
    $('#password').value = '';
    await showApp();
  } catch (e) {
    $('#login-error').textContent = e.status === 401 ? 'Wrong username or password.' : e.message;
  }
}

function logout(msg) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
  clearInterval(state.healthTimer);
  setLive(false);
  showLogin(msg);
}

async function showApp() {
  $('#login-view').hidden = true;
  $('#app-view').hidden = false;
  $('#logout').hidden = false;
  connectLive();
  await Promise.all([loadCampaigns(), loadHealth()]);
  clearInterval(state.healthTimer);
  state.healthTimer = setInterval(loadHealth, 10000);
}

// --- campaigns -------------------------------------------------------------

async function loadCampaigns() {
  try {
    const list = await api('GET', '/campaigns?per_page=1000');
    state.campaigns = new Map(list.map((c) => [c.campaign_id, c]));
    renderCampaigns();
    showError('');
  } catch (e) { if (state.token) showError('Campaigns: ' + e.message); }
}

async function reloadCampaign(id) {
  try {
    const c = await api('GET', '/campaigns/' + id);
    state.campaigns.set(c.campaign_id, c);
    renderCampaign(c);
  } catch (e) { if (state.token) showError('Campaign ' + id + ': ' + e.message); }
}

// Rows are updated in place, never rebuilt: a Start button replaced by a
// refresh between the operator's press and release would lose the click.
function renderCampaigns() {
  const body = $('#campaigns tbody');
  const ids = [...state.campaigns.keys()].sort((a, b) => b - a);
  const keep = new Set(ids.map(String));
  for (const tr of [...body.children]) if (!keep.has(tr.dataset.campaign)) tr.remove();
  let prev = null;
  for (const id of ids) {
    const tr = findRow(id) || newRow(id);
    fillRow(tr, state.campaigns.get(id));
    const at = prev ? prev.nextSibling : body.firstChild;
    if (tr !== at) body.insertBefore(tr, at);
    prev = tr;
  }
  $('#no-campaigns').hidden = ids.length > 0;
}

function renderCampaign(c) {
  const tr = findRow(c.campaign_id);
  if (tr) fillRow(tr, c); else renderCampaigns();
}

function findRow(id) {
  return document.querySelector('#campaigns tr[data-campaign="' + Number(id) + '"]');
}

function newRow(id) {
  const td = (cls) => el('td', { class: cls });
  const action = el('button', { type: 'button' });
  // The handler reads the campaign when pressed, so it follows the row's
  // updates.
  action.addEventListener('click', () => {
    const c = state.campaigns.get(id);
    if (c) startStop(id, c.status !== 'active', action);
  });
  return el('tr', { 'data-campaign': String(id) },
    el('td', { class: 'num' }, id), td('status'), el('td', {}, el('progress', {})),
    td('num done'), td('num answered'), td('num failed'), td('num in-flight'), td('num pending'),
    td('num cpm'), el('td', {}, action));
}

function fillRow(tr, c) {
  const k = c.counters || {};
  const cell = (cls) => tr.querySelector('td.' + cls);
  const status = cell('status');
  status.className = 'status status-' + (c.blocked ? 'blocked' : c.status);
  status.replaceChildren(c.blocked ? c.status + ' (blocked)' : c.status);
  if (c.blocked) status.append(el('span', { class: 'blocked' }, c.blocked.reason + (c.blocked.field ? ' (fix ' + c.blocked.field + ')' : '')));
  const bar = tr.querySelector('progress');
  bar.max = Math.max(k.total || 0, 1);
  bar.value = k.done || 0;
  cell('done').textContent = (k.done || 0) + ' / ' + (k.total || 0);
  for (const [cls, v] of [['answered', k.answered], ['failed', k.failed], ['in-flight', k.in_flight], ['pending', k.pending], ['cpm', c.cpm]]) {
    cell(cls).textContent = String(v ?? 0);
  }
  const action = tr.querySelector('button');
  const running = c.status === 'active';
  action.className = running ? 'stop' : 'start';
  action.textContent = running ? 'Stop' : 'Start';
  action.disabled = c.status === 'completed' || action.dataset.busy === '1';
}

async function startStop(id, start, button) {
  button.dataset.busy = '1';
  button.disabled = true;
  try {
    await api('PUT', '/campaigns/' + id + (start ? '/start' : '/stop'));
    showError('');
  } catch (e) { showError('Campaign ' + id + ': ' + e.message); }
  delete button.dataset.busy;
  await reloadCampaign(id);
}

// --- live stream -----------------------------------------------------------

function setLive(on) {
  const l = $('#live');
  l.className = 'live ' + (on ? 'on' : 'off');
  l.textContent = on ? 'live' : 'offline';
}

function connectLive() {
  if (!state.token || state.ws) return;
  // Browsers cannot set headers on a websocket: the token goes in the
  // query, which dialerd never writes to its access log.
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  const ws = new WebSocket(scheme + location.host + '/ws?token=' + encodeURIComponent(state.token));
  state.ws = ws;
  ws.onopen = () => { setLive(true); state.wsBackoff = 1000; loadCampaigns(); };
  ws.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    onEvent(ev);
  };
  ws.onclose = () => {
    state.ws = null;
    setLive(false);
    if (!state.token) return;
    // Redial with back-off; a refused token shows up as a 401 on the
    // next API call, which logs out.
    setTimeout(() => { if (state.token) { loadCampaigns(); connectLive(); } }, state.wsBackoff);
    state.wsBackoff = Math.min(state.wsBackoff * 2, 15000);
  };
}

function onEvent(ev) {
  if (!ev.campaign_id) return;
  const c = state.campaigns.get(ev.campaign_id);
  switch (ev.type) {
    case 'campaign.progress':
      if (c && ev.counters) { c.counters = ev.counters; renderCampaign(c); } else if (!c) reloadCampaign(ev.campaign_id);
      break;
    case 'campaign.started': case 'campaign.stopped': case 'campaign.completed':
      // The event can come before the store shows the new status: show the
      // event's at once, and read the record back a little later.
      if (c) { c.status = ev.type === 'campaign.started' ? 'active' : ev.type.slice('campaign.'.length); renderCampaign(c); }
      setTimeout(() => reloadCampaign(ev.campaign_id), 1000);
      break;
    case 'campaign.blocked': case 'campaign.unblocked': case 'campaign.paused': case 'campaign.resumed':
      reloadCampaign(ev.campaign_id);
      break;
  }
}

// --- health ----------------------------------------------------------------

const GATEWAYS = { 1: 'freeswitch', 2: 'kannel', 4: 'sendmail', 8: 'sip' };

async function loadHealth() {
  if (!state.token) return;
  try {
    const providers = await api('GET', '/providers?per_page=1000');
    $('#providers tbody').replaceChildren(...providers.map((p) => {
      const health = p.health || 'unknown';
      return el('tr', { 'data-provider': String(p.provider_id) },
        el('td', { class: 'num' }, p.provider_id), el('td', {}, p.name), el('td', {}, GATEWAYS[p.gateway_flag] || p.gateway_flag),
        el('td', {}, p.host + (p.port ? ':' + p.port : '')), el('td', {}, p.active ? 'yes' : 'no'),
        el('td', { class: 'health health-' + health }, health));
    }));
  } catch (e) { if (state.token) showError('Trunks: ' + e.message); }
  // /readyz needs no token and answers 503 with the same body when not ready.
  try {
    const res = await fetch('/readyz', { headers: { 'Accept': 'application/json' } });
    const r = await res.json();
    const rs = $('#ready-status');
    rs.textContent = r.status;
    rs.className = r.status === 'ready' ? 'state-ok' : 'state-bad';
    $('#checks tbody').replaceChildren(...Object.keys(r.checks || {}).sort().map((name) =>
      el('tr', {}, el('td', {}, name), el('td', { class: r.checks[name] === 'ok' ? 'state-ok' : 'state-bad' }, r.checks[name]))));
  } catch (e) { $('#ready-status').textContent = 'unreachable'; }
}

// --- start -----------------------------------------------------------------

document.addEventListener('DOMContentLoaded', () => {
  $('#login').addEventListener('submit', onLogin);
  $('#logout').addEventListener('click', () => logout(''));
  if (state.token) showApp(); else showLogin('');
});
