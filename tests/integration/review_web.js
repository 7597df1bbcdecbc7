// SPDX-License-Identifier: BSD-2-Clause
// The reviewer's web page in headless Chromium (puppeteer-core), driven by
// review_web.sh, which starts the collector, fills it and prepares HOME
// (NSS database with the reviewer's certificate) and the profile.
// Environment: MG_ORIGIN, MG_CHROMIUM, MG_PROFILE, MG_SCREENSHOT,
// MG_HOSTILE_SERIAL, MG_HOSTILE_USER.  Exit 0 when every check passed.
'use strict';

const puppeteer = require('puppeteer-core');

const env = (k) => {
	const v = process.env[k];
	if (v === undefined || v === '')
		throw new Error('review_web.js: ' + k + ' is not set');
	return v;
};
const origin = env('MG_ORIGIN');
const serial = env('MG_HOSTILE_SERIAL');
const user = env('MG_HOSTILE_USER');
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "connect-src 'self'; img-src 'self'; base-uri 'none'; " +
    "form-action 'none'; frame-ancestors 'none'";

let checks = 0;
let fails = 0;
function check(what, cond, detail) {
	checks++;
	if (cond) {
		console.log('ok: ' + what);
	} else {
		fails++;
		console.log('FAIL: ' + what + (detail !== undefined ?
		    ': ' + JSON.stringify(detail) : ''));
	}
}
function eq(what, got, want) {
	check(what, JSON.stringify(got) === JSON.stringify(want),
	    { got: got, want: want });
}

// What data could have smuggled in: elements no page markup has.
async function injected(page) {
	return page.evaluate(() => ({
		img: document.querySelectorAll('img').length,
		b: document.querySelectorAll('b, i').length,
		scripts: Array.from(document.scripts).map((s) =>
		    s.getAttribute('src')),
		handlers: Array.from(document.querySelectorAll('*'))
		    .filter((e) => Array.from(e.attributes)
			.some((a) => /^on/i.test(a.name))).length,
	}));
}

const clean = { img: 0, b: 0, scripts: ['app.js'], handlers: 0 };

async function rows(page, table) {
	return page.$$eval('#' + table + ' tbody tr', (trs) =>
	    trs.map((tr) => Array.from(tr.cells).map((c) => c.textContent)));
}

// Wait until the status line says it has finished loading.
async function settled(page) {
	await page.waitForFunction(() => {
		const s = document.getElementById('status').textContent;
		return s !== '' && !s.endsWith('…');
	}, { timeout: 15000 });
	return page.$eval('#status', (e) => e.textContent);
}

// Click sel and wait for the load it starts.
async function clickSettled(page, sel) {
	await page.$eval('#status', (e) => { e.textContent = ''; });
	await page.click(sel);
	return settled(page);
}

async function search(page, fields) {
	await clickSettled(page, '#tab-events');
	for (const name of ['terminal', 'user', 'action', 'serial', 'q']) {
		await page.$eval('#event-filter [name=' + name + ']',
		    (e, v) => { e.value = v; }, fields[name] || '');
	}
	await page.evaluate(() => {
		document.getElementById('status').textContent = '';
	});
	await page.click('#events-search');
	return settled(page);
}

async function openDetail(page, table, match) {
	const id = await page.$$eval('#' + table + ' tbody tr', (trs, m) => {
		const tr = trs.find((r) => r.cells[m.col].textContent === m.text);
		return tr ? tr.dataset.id : null;
	}, match);
	check('a row of ' + table + ' shows ' + JSON.stringify(match.text),
	    id !== null);
	if (id === null)
		return null;
	await page.click('#' + table + ' tr[data-id="' + id + '"] button');
	await page.waitForSelector('#view-detail:not([hidden])');
	await page.waitForFunction((i) => {
		const e = document.getElementById('detail-id');
		return e && e.textContent === i;
	}, { timeout: 15000 }, id);
	return id;
}

async function text(page, sel) {
	return page.$eval(sel, (e) => e.textContent);
}

async function run(browser) {
	const page = await browser.newPage();
	const dialogs = [];
	const errors = [];
	const csp = [];
	page.on('dialog', async (d) => {
		dialogs.push(d.message());
		await d.dismiss();
	});
	page.on('pageerror', (e) => errors.push(String(e)));
	page.on('console', (m) => {
		const t = m.text();
		if (/Content Security Policy/i.test(t)) {
			csp.push(t);
			console.log('CSP report: ' + t);
		}
	});
	page.on('requestfailed', (r) => errors.push('request failed: ' +
	    r.url() + ' ' + (r.failure() || {}).errorText));
	await page.evaluateOnNewDocument(() => {
		document.addEventListener('securitypolicyviolation', (e) => {
			console.log('Content Security Policy violation: ' +
			    e.violatedDirective + ' ' + e.blockedURI);
		});
	});
	await page.setViewport({ width: 1280, height: 900 });

	// 1. load: the alerts come first, in Japanese
	const resp = await page.goto(origin + '/review/',
	    { waitUntil: 'networkidle0' });
	eq('page loads', resp.status(), 200);
	eq('page CSP header', resp.headers()['content-security-policy'], CSP);
	eq('lang', await page.$eval('html', (e) => e.lang), 'ja');
	eq('tabs', await page.$$eval('nav .tab', (a) =>
	    a.map((e) => e.textContent)), ['アラート', 'イベント検索', '端末']);
	await settled(page);
	eq('visible views at load', await page.$$eval('.view', (v) =>
	    v.filter((e) => !e.hidden).map((e) => e.id)), ['view-alerts']);
	eq('alerts heading', await text(page, '#view-alerts h2'), 'アラート');
	const alerts = await rows(page, 'alerts-table');
	check('the gap of term-002 is listed',
	    alerts.some((r) => r[0] === '欠番（gap）' && r[2] === 'term-002' &&
		r[3] === '3'), alerts);

	// 2. filters: by terminal, then by action
	eq('filter by terminal', await search(page, { terminal: 'term-001' }),
	    'イベント 3 件');
	eq('... only term-001, newest first',
	    (await rows(page, 'events-table')).map((r) => [r[0], r[2]]),
	    [['3', 'term-001'], ['2', 'term-001'], ['1', 'term-001']]);
	eq('filter by action',
	    await search(page, { action: 'device-blocked' }), 'イベント 2 件');
	const blocked = await rows(page, 'events-table');
	eq('... only device-blocked', blocked.map((r) => r[3]),
	    ['device-blocked', 'device-blocked']);
	check('the hostile serial is a table cell\'s text',
	    blocked.some((r) => r[6] === serial), blocked);
	eq('filter by serial (the hostile one)',
	    await search(page, { serial: serial }), 'イベント 1 件');
	eq('nothing from data became markup (search)', await injected(page),
	    clean);

	// 3. the hostile-serial event
	await search(page, { action: 'device-blocked' });
	await openDetail(page, 'events-table', { col: 6, text: serial });
	eq('detail: serial shown literally',
	    await text(page, '#detail-serial'), serial);
	eq('detail: 署名 有効', await text(page, '#detail-signature'), '有効');
	eq('detail: 連鎖 linked', await text(page, '#detail-chain'),
	    '前の記録と連結');
	eq('detail: terminal', await text(page, '#detail-terminal'),
	    'term-001');
	const body = JSON.parse(await text(page, '#detail-body'));
	eq('detail: body pretty-printed, serial intact',
	    body.mynaguard.device.serial, serial);
	eq('nothing from data became markup (detail)', await injected(page),
	    clean);
	await new Promise((r) => setTimeout(r, 300)); // any onerror would fire
	await page.screenshot({ path: env('MG_SCREENSHOT'), fullPage: true });
	console.log('screenshot: ' + env('MG_SCREENSHOT'));

	// 4. terminals and a timeline
	await clickSettled(page, '#tab-terminals');
	eq('terminals', (await rows(page, 'terminals-table')).map((r) => r[0]),
	    ['term-001', 'term-002']);
	eq('timeline loads', await clickSettled(page,
	    '#terminals-table tr[data-agent="term-001"] button'),
	    'イベント 3 件');
	check('timeline view shown', await page.$eval('#view-timeline',
	    (e) => !e.hidden));
	eq('timeline heading', await text(page, '#timeline-terminal'),
	    'term-001');
	const tl = await rows(page, 'timeline-table');
	eq('timeline ascending by time (seq)', tl.map((r) => r[2]),
	    ['1', '2', '3']);
	eq('timeline: hostile user name is text', tl[1][5], user);
	eq('nothing from data became markup (timeline)', await injected(page),
	    clean);
	await openDetail(page, 'timeline-table', { col: 5, text: user });
	eq('detail: hostile user name literally',
	    await text(page, '#detail-user'), user);
	eq('detail: 署名 有効 (user event)',
	    await text(page, '#detail-signature'), '有効');

	// the chain status of an event after a gap, from term-002's timeline
	await clickSettled(page, '#tab-terminals');
	eq('term-002 timeline', await clickSettled(page,
	    '#terminals-table tr[data-agent="term-002"] button'),
	    'イベント 3 件');
	eq('term-002 timeline heading', await text(page, '#timeline-terminal'),
	    'term-002');
	await openDetail(page, 'timeline-table', { col: 2, text: '4' });
	eq('detail: 連鎖 gap', await text(page, '#detail-chain'),
	    '欠番の後（前の記録が届いていない）');

	// 5. nothing ran, nothing had to be blocked
	eq('no dialog (alert) fired', dialogs, []);
	eq('no page errors', errors, []);
	eq('no CSP violation (escaping did the work)', csp, []);
}

async function main() {
	const browser = await puppeteer.launch({
		executablePath: env('MG_CHROMIUM'),
		headless: true,
		userDataDir: env('MG_PROFILE'),
		// root in CI: no user namespaces for the sandbox
		args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
			'--no-first-run', '--lang=ja'],
		env: process.env, // HOME: the NSS database
		timeout: 60000,
	});
	try {
		await run(browser);
	} catch (e) {
		fails++;
		console.log('FAIL: ' + (e && e.stack ? e.stack : e));
	} finally {
		await browser.close();
	}
	console.log('review_web.js: ' + checks + ' checks, ' + fails +
	    ' failed');
	process.exit(fails === 0 ? 0 : 1);
}

main();
