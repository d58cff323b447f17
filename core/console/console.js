// Switchboard admin console: one page over the admin API. The host's own views (overview,
// events, charts, audit) are written here; every plugin view is rendered from the descriptions
// at /admin/api/views, so this file never names a plugin.
'use strict';

(function () {
  const state = { csrf: null, views: [], events: null, timers: [] };
  const $ = (id) => document.getElementById(id);

  // ---- DOM helpers ----
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'onclick' || key === 'onsubmit' || key === 'oninput' || key === 'onchange') {
        node.addEventListener(key.slice(2), value);
      } else if (key === 'text') {
        node.textContent = value;
      } else {
        node.setAttribute(key, value === true ? '' : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const svgNs = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs) {
    const node = document.createElementNS(svgNs, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  function notice(text, kind) {
    const box = $('notice');
    box.textContent = text;
    box.className = 'notice ' + (kind || 'info');
    box.hidden = !text;
  }

  // ---- API ----
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error) || ('HTTP ' + status));
      this.status = status;
      this.body = body;
    }
  }

  async function api(method, path, body) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
    const response = await fetch(path, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    const text = await response.text();
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text }; }
    if (response.status === 401 && path !== '/admin/api/session') {
      showLogin('Your session has ended; log in again.');
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // Lists come as {"items", "total", "limit", "offset"}; older routes answer an array or an
  // object holding one array. The second form is paged and searched here.
  function listOf(data) {
    if (Array.isArray(data)) return { items: data, total: null };
    if (data && Array.isArray(data.items)) {
      return { items: data.items, total: typeof data.total === 'number' ? data.total : null,
        paged: typeof data.total === 'number' };
    }
    if (data && typeof data === 'object') {
      const paged = typeof data.total === 'number';
      for (const value of Object.values(data)) {
        if (Array.isArray(value)) return { items: value, total: paged ? data.total : null, paged };
      }
    }
    return { items: [], total: 0 };
  }

  function field(item, key) {
    let value = item;
    for (const part of key.split('.')) {
      if (value === null || value === undefined) return undefined;
      value = value[part];
    }
    return value;
  }

  function format(value, how) {
    if (value === null || value === undefined || value === '') return '';
    if (how === 'time') {
      const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
      return isNaN(date) ? String(value) : date.toISOString().replace('T', ' ').slice(0, 19);
    }
    if (how === 'bool') return value ? 'yes' : 'no';
    if (how === 'json' || typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  function errorBox(error) {
    const box = el('div', { class: 'error', role: 'alert' }, error.message || String(error));
    const problems = error.body && error.body.problems;
    if (Array.isArray(problems)) {
      box.append(el('ul', { class: 'problems' }, problems.map((p) => el('li', { text: p }))));
    }
    return box;
  }

  // ---- Login ----
  function showLogin(message) {
    stopView();
    state.csrf = null;
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('token').focus();
  }

  async function showApp() {
    $('login').hidden = true;
    $('app').hidden = false;
    try {
      state.views = (await api('GET', '/admin/api/views')).views || [];
    } catch (e) {
      state.views = [];
      notice('Plugin views unavailable: ' + e.message, 'error');
    }
    buildNav();
    route();
  }

  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('login-error').textContent = '';
    try {
      const answer = await api('POST', '/admin/api/session', { token: $('token').value });
      state.csrf = answer.csrf;
      $('token').value = '';
      await showApp();
    } catch (e) {
      $('login-error').textContent =
          e.status === 401 ? 'Wrong token.' : e.status === 429 ? e.message : 'Login failed: ' + e.message;
    }
  });

  $('logout').addEventListener('click', async () => {
    try { await api('DELETE', '/admin/api/session'); } catch (e) { /* ended either way */ }
    showLogin('Logged out.');
  });

  // ---- Navigation ----
  const hostViews = [
    { hash: 'overview', title: 'Overview', render: renderOverview },
    { hash: 'events', title: 'Live events', render: renderEvents },
    { hash: 'charts', title: 'Requests', render: renderCharts },
    { hash: 'audit', title: 'Audit log', render: renderAudit },
  ];

  function viewHash(view) { return 'view/' + view.plugin + '/' + view.id; }

  function buildNav() {
    const nav = $('nav');
    nav.replaceChildren();
    for (const v of hostViews) nav.append(el('a', { href: '#' + v.hash, 'data-hash': v.hash }, v.title));
    for (const v of state.views) {
      const hash = viewHash(v);
      nav.append(el('a', { href: '#' + hash, 'data-hash': hash, class: 'plugin-view' },
        el('span', { class: 'plugin' }, v.plugin), ' ', v.title));
    }
  }

  function stopView() {
    if (state.events) { state.events.abort(); state.events = null; }
    for (const t of state.timers) clearInterval(t);
    state.timers = [];
  }

  function route() {
    if ($('app').hidden) return;
    stopView();
    notice('');
    const hash = location.hash.slice(1) || 'overview';
    for (const a of $('nav').querySelectorAll('a')) {
      a.classList.toggle('active', a.dataset.hash === hash);
    }
    const main = $('main');
    main.replaceChildren();
    const host = hostViews.find((v) => v.hash === hash);
    if (host) { host.render(main); return; }
    const view = state.views.find((v) => viewHash(v) === hash);
    if (view) { renderTableView(main, view); return; }
    main.append(el('p', { class: 'error' }, 'No view ' + hash));
  }
  window.addEventListener('hashchange', route);

  // ---- Overview ----
  async function renderOverview(main) {
    const table = el('table', { id: 'plugins' });
    const reloadResult = el('div', { id: 'reload-result' });
    const reload = el('button', { id: 'reload', type: 'button', onclick: async () => {
      reloadResult.replaceChildren();
      try {
        await api('POST', '/admin/api/reload');
        reloadResult.append(el('p', { class: 'ok' }, 'Configuration reloaded.'));
        load();
      } catch (e) {
        reloadResult.append(errorBox(e));
      }
    } }, 'Reload configuration');
    main.append(el('h2', {}, 'Plugins'), el('div', { class: 'toolbar' }, reload), reloadResult, table);

    async function toggle(path, method) {
      try {
        await api(method, path);
        notice('Done: ' + method + ' ' + path, 'ok');
      } catch (e) {
        notice(method + ' ' + path + ': ' + e.message, 'error');
      }
      load();
    }

    async function load() {
      let plugins;
      try {
        plugins = (await api('GET', '/admin/api/plugins')).plugins;
      } catch (e) {
        table.replaceChildren(el('caption', {}, errorBox(e)));
        return;
      }
      const head = el('tr', {}, ['Plugin', 'State', 'Listener', 'Override', 'Error', ''].map(
        (h) => el('th', { text: h })));
      const rows = plugins.map((p) => {
        const base = '/admin/api/plugins/' + encodeURIComponent(p.name);
        const running = p.state === 'running';
        const override = p.override === undefined ? null : p.override;
        const buttons = el('td', { class: 'actions' },
          el('button', { type: 'button', 'data-action': 'enable', disabled: running,
            onclick: () => toggle(base + '/enable', 'POST') }, 'Enable'),
          el('button', { type: 'button', 'data-action': 'disable', disabled: p.state === 'disabled',
            onclick: () => toggle(base + '/disable', 'POST') }, 'Disable'),
          override ? el('button', { type: 'button', 'data-action': 'reset',
            onclick: () => toggle(base + '/override', 'DELETE') }, 'Reset to YAML') : null);
        return el('tr', { 'data-plugin': p.name },
          el('td', { text: p.name }),
          el('td', {}, el('span', { class: 'state state-' + p.state, text: p.state })),
          el('td', { text: p.listener || '' }),
          el('td', { text: override ? 'overridden at runtime: ' + override : '' }),
          el('td', { class: 'error-text', text: p.error || '' }),
          buttons);
      });
      table.replaceChildren(el('thead', {}, head), el('tbody', {}, rows));
    }
    load();
    state.timers.push(setInterval(load, 5000));
  }

  // ---- Live events (Server-Sent Events read with fetch: named events need no listener each) ----
  function renderEvents(main) {
    const topic = el('input', { id: 'event-topic', placeholder: 'topic filter, e.g. device.*',
      value: '*' });
    const pause = el('button', { id: 'event-pause', type: 'button' }, 'Pause');
    const status = el('span', { id: 'event-status', class: 'muted' }, 'connecting');
    const list = el('ol', { id: 'event-list', class: 'events' });
    let paused = false;
    let held = 0;
    pause.addEventListener('click', () => {
      paused = !paused;
      pause.textContent = paused ? 'Resume' : 'Pause';
      if (!paused) held = 0;
      status.textContent = paused ? 'paused' : 'live';
    });
    topic.addEventListener('change', connect);
    main.append(el('h2', {}, 'Live events'),
      el('div', { class: 'toolbar' }, el('label', {}, 'Topic ', topic), pause, status), list);

    function add(name, data) {
      if (paused) { held++; status.textContent = 'paused (' + held + ' not shown)'; return; }
      let text = data;
      try { text = JSON.stringify(JSON.parse(data)); } catch (e) { /* shown as sent */ }
      list.prepend(el('li', { 'data-topic': name },
        el('time', { text: new Date().toISOString().slice(11, 19) }),
        el('strong', { text: name }), el('code', { text })));
      while (list.children.length > 200) list.lastChild.remove();
    }

    async function connect() {
      if (state.events) state.events.abort();
      const controller = new AbortController();
      state.events = controller;
      const pattern = topic.value.trim() || '*';
      try {
        const response = await fetch('/admin/api/events?topic=' + encodeURIComponent(pattern),
          { credentials: 'same-origin', signal: controller.signal });
        if (!response.ok) throw new Error('HTTP ' + response.status);
        status.textContent = paused ? 'paused' : 'live';
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let name = 'message';
            const data = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) name = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length) add(name, data.join('\n'));
          }
        }
        status.textContent = 'disconnected';
      } catch (e) {
        if (!controller.signal.aborted) status.textContent = 'disconnected: ' + e.message;
      }
    }
    connect();
  }

  // ---- Charts: request rate and p99 per route, from /admin/api/metrics/history ----
  function chart(points, key, unit) {
    const width = 240, height = 60;
    const values = points.map((p) => (p[key] === null ? 0 : p[key]));
    const max = Math.max(...values, key === 'p99' ? 0.001 : 1);
    const box = svg('svg', { viewBox: `0 0 ${width} ${height + 14}`, width, height: height + 14,
      class: 'chart', role: 'img' });
    box.append(svg('rect', { x: 0, y: 0, width, height, class: 'chart-bg' }));
    const step = values.length > 1 ? width / (values.length - 1) : width;
    const line = values.map((v, i) => `${(i * step).toFixed(1)},${(height - (v / max) * (height - 4)).toFixed(1)}`);
    if (line.length === 1) line.push(`${width},${line[0].split(',')[1]}`);
    box.append(svg('polyline', { points: line.join(' '), class: 'chart-line' }));
    const last = values.length ? values[values.length - 1] : 0;
    const label = svg('text', { x: 0, y: height + 12, class: 'chart-label' });
    label.textContent = key === 'p99'
      ? `p99 ${(last * 1000).toFixed(1)} ms (max ${(max * 1000).toFixed(1)} ${unit})`
      : `${last.toFixed(2)} req/s (max ${max.toFixed(2)} ${unit})`;
    box.append(label);
    return box;
  }

  function renderCharts(main) {
    const body = el('div', { id: 'charts' });
    main.append(el('h2', {}, 'Requests per route'), body);
    async function load() {
      let history;
      try {
        history = await api('GET', '/admin/api/metrics/history');
      } catch (e) {
        body.replaceChildren(errorBox(e));
        return;
      }
      const minutes = Math.round((history.interval * history.samples) / 60);
      const cards = history.routes.map((r) => el('figure', { class: 'route-chart' },
        el('figcaption', {}, el('code', { text: `${r.method} ${r.route}` }), ' ',
          el('span', { class: 'muted', text: r.listener })),
        chart(r.points, 'rate', 'req/s'), chart(r.points, 'p99', 'ms')));
      body.replaceChildren(el('p', { class: 'muted' },
        `Sampled every ${history.interval} s over the last ${minutes} min.`),
        ...(cards.length ? cards : [el('p', {}, 'No requests yet.')]));
    }
    load();
    state.timers.push(setInterval(load, 10000));
  }

  // ---- Audit log ----
  function renderAudit(main) {
    renderTableView(main, {
      plugin: 'host', id: 'audit', title: 'Audit log', endpoint: '/admin/api/audit',
      paginate: true, search: false, filter: 'action', actions: [],
      columns: [
        { key: 'time', label: 'Time', format: 'time' },
        { key: 'actor', label: 'Actor', format: 'text' },
        { key: 'address', label: 'Address', format: 'text' },
        { key: 'action', label: 'Action', format: 'text' },
        { key: 'detail', label: 'Detail', format: 'json' },
      ],
    });
  }

  // ---- Plugin views, from their descriptions ----
  function fill(path, row) {
    return path.replace(/\{([^}]+)\}/g, (m, name) => encodeURIComponent(format(field(row || {}, name))));
  }

  function modal(title, content) {
    $('modal-title').textContent = title;
    $('modal-body').replaceChildren(content);
    $('modal').hidden = false;
  }
  function closeModal() { $('modal').hidden = true; $('modal-body').replaceChildren(); }

  function askForm(action) {
    return new Promise((resolve) => {
      const inputs = action.fields.map((f) => el('input', { name: f.name,
        type: f.type === 'number' ? 'number' : f.type === 'password' ? 'password' : 'text',
        required: f.required, placeholder: f.type === 'json' ? '{"key": "value"}' : '' }));
      const form = el('form', { class: 'action-form' },
        action.fields.map((f, i) => el('label', {}, f.label + (f.required ? ' *' : ''), inputs[i])),
        el('div', { class: 'buttons' },
          el('button', { type: 'submit' }, action.label),
          el('button', { type: 'button', onclick: () => { closeModal(); resolve(null); } }, 'Cancel')));
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        const body = {};
        try {
          action.fields.forEach((f, i) => {
            const text = inputs[i].value.trim();
            if (!text) return;
            body[f.name] = f.type === 'number' ? Number(text) : f.type === 'json' ? JSON.parse(text) : text;
          });
        } catch (e) {
          notice('Not JSON: ' + e.message, 'error');
          return;
        }
        closeModal();
        resolve(body);
      });
      modal(action.label, form);
      if (inputs.length) inputs[0].focus();
    });
  }

  function showOnce(action, answer) {
    const rows = action.shows.map((name) => {
      const value = format(field(answer, name));
      const out = el('output', { class: 'secret', 'data-field': name, text: value });
      const copy = el('button', { type: 'button', class: 'copy', onclick: async () => {
        try {
          await navigator.clipboard.writeText(value);
          copy.textContent = 'Copied';
        } catch (e) {
          const range = document.createRange();
          range.selectNodeContents(out);
          getSelection().removeAllRanges();
          getSelection().addRange(range);
          copy.textContent = 'Selected: press Ctrl+C';
        }
      } }, 'Copy');
      return el('div', { class: 'secret-row' }, el('span', { text: name }), out, copy);
    });
    modal(action.label + ': shown once', el('div', { id: 'shown-once' },
      el('p', {}, 'Copy it now: it is not shown again.'), rows,
      el('pre', { class: 'answer', text: JSON.stringify(answer, null, 2) }),
      el('div', { class: 'buttons' }, el('button', { type: 'button', onclick: closeModal }, 'Done'))));
  }

  async function runAction(action, row, reload) {
    if (action.confirm && !window.confirm(action.confirm)) return;
    let body;
    if (action.fields && action.fields.length) {
      body = await askForm(action);
      if (body === null) return;
    } else if (action.method !== 'GET' && action.method !== 'DELETE') {
      body = {};
    }
    const path = fill(action.path, row);
    try {
      const answer = await api(action.method, path, body);
      if (action.shows && action.shows.length) {
        showOnce(action, answer);
      } else if (action.method === 'GET') {
        modal(action.label, el('div', {}, el('pre', { class: 'answer', text: JSON.stringify(answer, null, 2) }),
          el('div', { class: 'buttons' }, el('button', { type: 'button', onclick: closeModal }, 'Close'))));
      } else {
        notice(action.label + ': done', 'ok');
      }
    } catch (e) {
      notice(action.label + ' (' + action.method + ' ' + path + '): ' + e.message, 'error');
    }
    reload();
  }

  function renderTableView(main, view) {
    const pageSize = 25;
    let offset = 0;
    const search = view.search || view.filter
      ? el('input', { type: 'search', class: 'search', placeholder: view.filter ? view.filter : 'search' })
      : null;
    const table = el('table', { class: 'view-table', 'data-view': view.plugin + '/' + view.id });
    const pager = el('div', { class: 'pager' });
    const toolbar = el('div', { class: 'toolbar' }, search,
      view.actions.filter((a) => a.scope === 'view').map((a) =>
        el('button', { type: 'button', 'data-action': a.label, onclick: () => runAction(a, null, load) }, a.label)));
    main.append(el('h2', {}, view.title, ' ', el('span', { class: 'muted', text: view.plugin })), toolbar, table, pager);
    if (search) {
      let timer = null;
      search.addEventListener('input', () => {
        clearTimeout(timer);
        timer = setTimeout(() => { offset = 0; load(); }, 250);
      });
    }
    const rowActions = view.actions.filter((a) => a.scope !== 'view');

    async function load() {
      const query = new URLSearchParams();
      const q = search ? search.value.trim() : '';
      if (view.paginate) { query.set('limit', pageSize); query.set('offset', offset); }
      if (q) query.set(view.filter || 'q', q);
      let list;
      try {
        list = listOf(await api('GET', view.endpoint + (query.toString() ? '?' + query : '')));
      } catch (e) {
        table.replaceChildren(el('caption', {}, errorBox(e)));
        pager.replaceChildren();
        return;
      }
      let items = list.items;
      let total = list.total;
      if (!list.paged) {
        // An answer without a total holds every item: search and page it here.
        if (q && !view.filter) {
          const needle = q.toLowerCase();
          items = items.filter((item) => JSON.stringify(item).toLowerCase().includes(needle));
        }
        total = items.length;
        items = items.slice(offset, offset + pageSize);
      }
      const head = el('tr', {}, view.columns.map((c) => el('th', { text: c.label })),
        rowActions.length ? el('th', {}) : null);
      const rows = items.map((item) => el('tr', {},
        view.columns.map((c) => el('td', { 'data-key': c.key, class: 'fmt-' + c.format },
          format(field(item, c.key), c.format))),
        rowActions.length ? el('td', { class: 'actions' }, rowActions.map((a) =>
          el('button', { type: 'button', 'data-action': a.label, onclick: () => runAction(a, item, load) },
            a.label))) : null));
      table.replaceChildren(el('thead', {}, head),
        el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { class: 'muted',
          colspan: view.columns.length + 1 }, 'Nothing here.'))));
      const last = Math.min(offset + items.length, total);
      pager.replaceChildren(
        el('button', { type: 'button', class: 'prev', disabled: offset === 0,
          onclick: () => { offset = Math.max(0, offset - pageSize); load(); } }, 'Previous'),
        el('span', { class: 'range', text: total ? `${offset + 1}–${last} of ${total}` : '0 of 0' }),
        el('button', { type: 'button', class: 'next', disabled: offset + pageSize >= total,
          onclick: () => { offset += pageSize; load(); } }, 'Next'));
    }
    load();
  }

  $('modal').addEventListener('click', (event) => { if (event.target === $('modal')) closeModal(); });

  // ---- Start: an existing session (cookie) needs its CSRF token again ----
  (async () => {
    try {
      const session = await api('GET', '/admin/api/session');
      if (session.session) {
        state.csrf = session.csrf;
        await showApp();
        return;
      }
    } catch (e) { /* not logged in */ }
    showLogin('');
  })();
})();
