// SPDX-License-Identifier: BSD-2-Clause
// The reviewer's page: reads the JSON review API (docs/review-api.md) on
// this origin.  Every string from the collector (device serials, user
// names, alert details: all written by terminals or users) is inserted with
// textContent or createTextNode, never as markup; the server's
// Content-Security-Policy forbids inline script and anything from elsewhere.
'use strict';

(function () {
	const API = '/v1/review/';

	const ALERT_TYPES = {
		'gap': '欠番',
		'chain-break': '連鎖の切断',
		'equivocation': '同じ連番の異なる記録',
		'forged': '署名の偽造',
		'identity-mismatch': '端末IDの不一致',
		'loss': '記録の消失',
		'invalid': '無効な記録',
		'state-mismatch': '状態の不一致',
		'silent': '無通信',
	};
	const CHAIN = {
		'first': '最初の記録',
		'linked': '前の記録と連結',
		'gap': '欠番の後（前の記録が届いていない）',
		'break': '連鎖の切断（前の記録と一致しない）',
		'explained': '消失の記録で説明済み',
	};
	const SIGNATURE = { 'valid': '有効', 'invalid': '無効' };
	const OUTCOME = { 'success': '成功', 'failure': '失敗' };

	// ---- helpers --------------------------------------------------------

	function $(id) {
		return document.getElementById(id);
	}

	// An element with text content (never markup) and an optional class.
	function el(tag, text, cls) {
		const e = document.createElement(tag);
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		if (cls)
			e.className = cls;
		return e;
	}

	function cell(tr, text, cls) {
		const td = el('td', text, cls);
		tr.appendChild(td);
		return td;
	}

	function setStatus(text, isError) {
		const s = $('status');
		s.textContent = text || '';
		s.classList.toggle('error', !!isError);
	}

	// "2027-01-01T00:00:03.000000000Z" in local time, to the second.
	function fmtTime(t) {
		if (typeof t !== 'string')
			return '';
		const ms = Date.parse(t.replace(/(\.\d{3})\d*/, '$1'));
		if (Number.isNaN(ms))
			return t;
		const d = new Date(ms);
		const p = (n) => String(n).padStart(2, '0');
		return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' +
		    p(d.getDate()) + ' ' + p(d.getHours()) + ':' +
		    p(d.getMinutes()) + ':' + p(d.getSeconds());
	}

	function serialOf(ev) {
		const b = ev && ev.body;
		const s = b && b.mynaguard && b.mynaguard.device &&
		    b.mynaguard.device.serial;
		return typeof s === 'string' ? s : '';
	}

	async function getJSON(path, params) {
		const qs = params ? new URLSearchParams(params).toString() : '';
		const resp = await fetch(API + path + (qs ? '?' + qs : ''), {
			credentials: 'same-origin',
			headers: { 'Accept': 'application/json' },
			cache: 'no-store',
		});
		let data = null;
		try {
			data = await resp.json();
		} catch (e) {
			data = null;
		}
		if (!resp.ok) {
			const why = data && typeof data.error === 'string' ?
			    data.error : 'HTTP ' + resp.status;
			throw new Error(why);
		}
		return data;
	}

	function clear(tbody) {
		while (tbody.firstChild)
			tbody.removeChild(tbody.firstChild);
	}

	function showEmpty(section, empty) {
		section.querySelector('.empty').hidden = !empty;
	}

	// ---- views ----------------------------------------------------------

	const VIEWS = ['alerts', 'events', 'terminals', 'timeline', 'detail'];

	function show(view) {
		for (const v of VIEWS)
			$('view-' + v).hidden = v !== view;
		for (const t of ['alerts', 'events', 'terminals'])
			$('tab-' + t).classList.toggle('active', t === view ||
			    (t === 'terminals' && view === 'timeline'));
	}

	function eventLink(ev) {
		const b = el('button', String(ev.id), 'link');
		b.type = 'button';
		b.title = 'イベント ' + ev.id + ' の詳細';
		b.addEventListener('click', () => {
			location.hash = '#event/' + encodeURIComponent(ev.id);
		});
		return b;
	}

	function terminalLink(id) {
		const b = el('button', id, 'link');
		b.type = 'button';
		b.addEventListener('click', () => {
			location.hash = '#timeline/' + encodeURIComponent(id);
		});
		return b;
	}

	// One row of the event tables; timeline rows show seq, not terminal.
	function eventRow(ev, timeline) {
		const tr = document.createElement('tr');
		tr.dataset.id = String(ev.id);
		cell(tr, null, 'num').appendChild(eventLink(ev));
		cell(tr, fmtTime(ev.time));
		if (timeline)
			cell(tr, ev.seq, 'num');
		else
			cell(tr, null).appendChild(terminalLink(ev.agent_id));
		cell(tr, ev.action, ev.critical ? 'bad' : '');
		cell(tr, OUTCOME[ev.outcome] || ev.outcome,
		    ev.outcome === 'failure' ? 'bad' : '');
		cell(tr, ev.user === null ? '—' : ev.user, 'user');
		cell(tr, serialOf(ev), 'serial');
		cell(tr, ev.verified ? '有効' : '無効',
		    ev.verified ? 'good' : 'bad');
		return tr;
	}

	function severityClass(sev) {
		if (sev <= 2)
			return 'sev-crit';
		if (sev === 3)
			return 'sev-err';
		return sev === 4 ? 'sev-warn' : '';
	}

	const SEVERITY = ['緊急', '警報', '重大', 'エラー', '警告', '通知',
		'情報', 'デバッグ'];

	function alertRow(a) {
		const tr = document.createElement('tr');
		tr.dataset.type = String(a.type);
		const type = ALERT_TYPES[a.type];
		cell(tr, type ? type + '（' + a.type + '）' : a.type);
		cell(tr, SEVERITY[a.severity] || a.severity,
		    severityClass(a.severity));
		cell(tr, null).appendChild(terminalLink(a.agent_id));
		let range = '';
		if (a.seq_from !== undefined && a.seq_from !== null)
			range = a.seq_from === a.seq_to ? String(a.seq_from) :
			    a.seq_from + '〜' + a.seq_to;
		cell(tr, range, 'num');
		cell(tr, a.detail === null ? '' : a.detail, 'detail');
		cell(tr, fmtTime(a.created));
		cell(tr, a.explained_by ? '説明済み（記録 ' + a.explained_by +
		    '）' : '');
		return tr;
	}

	// ---- alerts -----------------------------------------------------------

	let alertsBefore = null;

	async function loadAlerts(more) {
		const sec = $('view-alerts');
		const tbody = $('alerts-table').tBodies[0];
		const params = {};
		if (more && alertsBefore !== null)
			params.before = alertsBefore;
		setStatus('読み込み中…');
		try {
			const data = await getJSON('alerts', params);
			if (!more)
				clear(tbody);
			for (const a of data.alerts)
				tbody.appendChild(alertRow(a));
			alertsBefore = data.next_before;
			$('alerts-more').hidden = alertsBefore === null;
			showEmpty(sec, tbody.rows.length === 0);
			setStatus('アラート ' + tbody.rows.length + ' 件');
		} catch (e) {
			setStatus('アラートを読み込めません：' + e.message, true);
		}
	}

	// ---- event search -------------------------------------------------------

	let eventsQuery = null;
	let eventsBefore = null;

	// datetime-local ("2027-01-01T09:00:00", local time) as RFC 3339 UTC.
	function rfc3339(v) {
		const ms = Date.parse(v);
		return Number.isNaN(ms) ? null : new Date(ms).toISOString();
	}

	function filterParams() {
		const f = $('event-filter');
		const params = {};
		for (const name of ['terminal', 'user', 'action', 'outcome',
			'serial', 'q']) {
			const v = f.elements[name].value;
			if (v !== '')
				params[name] = v;
		}
		for (const name of ['since', 'until']) {
			const v = f.elements[name].value;
			if (v === '')
				continue;
			const t = rfc3339(v);
			if (t === null)
				throw new Error('期間の形式が正しくありません');
			params[name] = t;
		}
		return params;
	}

	async function loadEvents(more) {
		const sec = $('view-events');
		const tbody = $('events-table').tBodies[0];
		const params = Object.assign({}, eventsQuery || {});
		if (more && eventsBefore !== null)
			params.before = eventsBefore;
		setStatus('検索中…');
		try {
			const data = await getJSON('events', params);
			if (!more)
				clear(tbody);
			for (const ev of data.events)
				tbody.appendChild(eventRow(ev, false));
			eventsBefore = data.next_before;
			$('events-more').hidden = eventsBefore === null;
			showEmpty(sec, tbody.rows.length === 0);
			setStatus('イベント ' + tbody.rows.length + ' 件');
		} catch (e) {
			setStatus('検索できません：' + e.message, true);
		}
	}

	function search(ev) {
		ev.preventDefault(); // form-action 'none': never submitted
		try {
			eventsQuery = filterParams();
		} catch (e) {
			setStatus(e.message, true);
			return;
		}
		loadEvents(false);
	}

	// ---- terminals and timelines --------------------------------------------

	async function loadTerminals() {
		const sec = $('view-terminals');
		const tbody = $('terminals-table').tBodies[0];
		setStatus('読み込み中…');
		try {
			const data = await getJSON('terminals');
			clear(tbody);
			for (const t of data.terminals) {
				const tr = document.createElement('tr');
				tr.dataset.agent = String(t.agent_id);
				cell(tr, null).appendChild(terminalLink(t.agent_id));
				cell(tr, fmtTime(t.last_seen));
				cell(tr, t.next_seq, 'num');
				cell(tr, t.silent ? 'はい' : 'いいえ',
				    t.silent ? 'bad' : '');
				cell(tr, t.state ? t.state.policy_version : '—',
				    'num');
				// The signed bundle in force and its group's
				// latest (issue 8); red when it lags behind.
				cell(tr, t.policy_version != null ? t.policy_version : '—',
				    t.policy_lagging ? 'num bad' : 'num');
				cell(tr, t.policy_latest != null ? t.policy_latest : '—',
				    'num');
				cell(tr, t.state ? t.state.mismatch : '—',
				    t.state && t.state.mismatch ? 'bad' : '');
				tbody.appendChild(tr);
			}
			showEmpty(sec, tbody.rows.length === 0);
			setStatus('端末 ' + tbody.rows.length + ' 台');
		} catch (e) {
			setStatus('端末を読み込めません：' + e.message, true);
		}
	}

	let timelineTerminal = null;
	let timelineAfter = null;

	async function loadTimeline(terminal, more) {
		const sec = $('view-timeline');
		const tbody = $('timeline-table').tBodies[0];
		const params = { terminal: terminal };
		if (more && timelineAfter !== null)
			params.after = timelineAfter;
		$('timeline-terminal').textContent = terminal;
		setStatus('読み込み中…');
		try {
			const data = await getJSON('timeline', params);
			if (!more)
				clear(tbody);
			for (const ev of data.events)
				tbody.appendChild(eventRow(ev, true));
			timelineTerminal = terminal;
			timelineAfter = data.next_after;
			$('timeline-more').hidden = timelineAfter === null;
			showEmpty(sec, tbody.rows.length === 0);
			setStatus('イベント ' + tbody.rows.length + ' 件');
		} catch (e) {
			setStatus('タイムラインを読み込めません：' + e.message, true);
		}
	}

	// ---- one event ------------------------------------------------------------

	function field(dl, key, name, value, cls) {
		const dt = el('dt', name);
		const dd = el('dd', value, cls);
		dd.id = 'detail-' + key;
		dl.appendChild(dt);
		dl.appendChild(dd);
		return dd;
	}

	async function loadDetail(id) {
		const dl = $('detail-fields');
		clear(dl);
		$('detail-body').textContent = '';
		$('detail-record').textContent = '';
		setStatus('読み込み中…');
		try {
			const ev = (await getJSON('events/' +
			    encodeURIComponent(id))).event;
			const v = ev.verification || {};
			field(dl, 'id', 'ID', ev.id);
			field(dl, 'terminal', '端末', '').appendChild(
			    terminalLink(ev.agent_id));
			field(dl, 'seq', '連番', ev.seq);
			field(dl, 'time', '時刻', fmtTime(ev.time) + '（' +
			    ev.time + '）');
			field(dl, 'received', '受信時刻', fmtTime(ev.received));
			field(dl, 'action', '種別', ev.action);
			field(dl, 'outcome', '結果',
			    OUTCOME[ev.outcome] || ev.outcome);
			field(dl, 'user', '利用者', ev.user === null ? '—' :
			    ev.user);
			field(dl, 'serial', 'デバイスのシリアル', serialOf(ev));
			field(dl, 'critical', '重要', ev.critical ? 'はい' :
			    'いいえ');
			field(dl, 'signature', '署名',
			    SIGNATURE[v.signature] || v.signature,
			    v.signature === 'valid' ? 'good' : 'bad');
			field(dl, 'chain', '連鎖', CHAIN[v.chain] || v.chain,
			    v.chain === 'first' || v.chain === 'linked' ||
			    v.chain === 'explained' ? 'good' : 'bad');
			field(dl, 'hash', 'ハッシュ', ev.hash);
			field(dl, 'prev-hash', '前の記録のハッシュ', ev.prev_hash);
			$('detail-body').textContent =
			    JSON.stringify(ev.body, null, 2);
			$('detail-record').textContent = ev.record;
			setStatus('イベント ' + ev.id);
		} catch (e) {
			setStatus('イベントを読み込めません：' + e.message, true);
		}
	}

	// ---- routing: #alerts, #events, #terminals, #timeline/T, #event/ID ------

	function route() {
		const h = location.hash.replace(/^#/, '');
		const slash = h.indexOf('/');
		const name = slash < 0 ? h : h.slice(0, slash);
		let arg = '';
		try {
			arg = slash < 0 ? '' : decodeURIComponent(h.slice(slash + 1));
		} catch (e) {
			arg = '';
		}
		if (name === 'events') {
			show('events');
			if (eventsQuery === null) {
				eventsQuery = {};
				loadEvents(false);
			} else {
				setStatus('イベント ' +
				    $('events-table').tBodies[0].rows.length +
				    ' 件');
			}
		} else if (name === 'terminals') {
			show('terminals');
			loadTerminals();
		} else if (name === 'timeline' && arg !== '') {
			show('timeline');
			loadTimeline(arg, false);
		} else if (name === 'event' && /^[0-9]+$/.test(arg)) {
			show('detail');
			loadDetail(arg);
		} else {
			show('alerts');
			loadAlerts(false);
		}
	}

	function init() {
		$('event-filter').addEventListener('submit', search);
		$('event-filter').addEventListener('reset', () => {
			setTimeout(() => $('events-search').click(), 0);
		});
		$('alerts-more').addEventListener('click', () => loadAlerts(true));
		$('events-more').addEventListener('click', () => loadEvents(true));
		$('timeline-more').addEventListener('click', () => {
			if (timelineTerminal !== null)
				loadTimeline(timelineTerminal, true);
		});
		// The tab already shown: no hashchange, so route (reload) here.
		for (const tab of document.querySelectorAll('nav .tab')) {
			tab.addEventListener('click', (ev) => {
				if (location.hash === tab.getAttribute('href')) {
					ev.preventDefault();
					route();
				}
			});
		}
		window.addEventListener('hashchange', route);
		route();
	}

	document.addEventListener('DOMContentLoaded', init);
}());
