/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pam_mynaguard.so end to end: real PAM stacks run by libpamtest under
 * pam_wrapper, software keys (tests/softkey, libsoftkey-preload.so) in
 * place of real ones.  Every attempt checks the PAM result, the exact
 * messages the user saw (English, Japanese, and English on a Linux text
 * console with a Japanese locale) and the one event it left in the drop
 * directory (the socket does not exist, so events are dropped there).
 *
 *   pam_login MODULE LOCALEDIR         the test (run by CTest, see pam.cmake)
 *   pam_login enroll CREDFILE RP USER STATE [PIN]
 *                                      enroll the key of STATE for USER
 *   pam_login events DROPDIR           print and remove the events
 *
 * The test needs LD_PRELOAD="libpam_wrapper.so libsoftkey-preload.so",
 * PAM_WRAPPER=1 and PAM_WRAPPER_SERVICE_DIR.  pam_wrapper copies the
 * service directory when the process starts, so the program writes its
 * service files (and everything they name) first, then runs itself again
 * as a child for the cases.  MG_PAMTEST_KEEP=1 keeps the work directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fido.h>

#include "pam_harness.h"
#include "softkey.h"

extern char **environ;

#define OTHER_AAGUID "00000000-0000-0000-0000-000000000001"
#define THRESHOLD 3

/* taro: K1, no PIN; hanako: K2 with a PIN; jiro: K4 and K5; K3 is
 * nobody's.  glass1 is the break-glass account, saburo has no key,
 * daemon (a system account) is exempt in exempt.conf. */
struct key keys[K_COUNT] = {
	[K1] = { "k1", "taro", NULL, "", "" },
	[K2] = { "k2", "hanako", PIN, "", "" },
	[K3] = { "k3", NULL, NULL, "", "" },	/* plugged in, not enrolled */
	[K4] = { "k4", "jiro", NULL, "", "" },
	[K5] = { "k5", "jiro", NULL, "", "" },
};

/*
 * Every message of the module as a person sees it, "I:" info, "E:" error,
 * "P:" PIN prompt; written out here, not read from the catalog, so that a
 * wrong or missing translation fails.
 */
#define M_TOUCH TXT("I:Touch your security key.", \
	"I:セキュリティキーに触れてください。")
#define M_PROMPT TXT("P:Security key PIN (then touch the key): ", \
	"P:セキュリティキーの PIN（入力後にキーに触れてください）: ")
#define M_INSERT TXT("I:Insert your security key.", \
	"I:セキュリティキーを差し込んでください。")
#define M_NO_PIN TXT("E:No PIN was entered. The PIN of the security key " \
	"is required.", \
	"E:PIN が入力されませんでした。" \
	"セキュリティキーの PIN が必要です。")
#define M_NO_PIN_SET TXT("E:The policy requires a PIN, but this security " \
	"key has none. Ask the administrator to set one.", \
	"E:ポリシーにより PIN が必要ですが、" \
	"このセキュリティキーには PIN が設定されていません。" \
	"管理者に連絡してください。")
#define M_WIDE TXT("E:The PIN was typed with full-width (zenkaku) or " \
	"other non-ASCII characters. Turn the input method off and type " \
	"the PIN again.", \
	"E:PIN が全角文字などの半角英数字以外で入力されました。" \
	"日本語入力をオフにして、PIN をもう一度入力してください。")
#define M_SHORT TXT("E:A PIN has at least 4 characters.", \
	"E:PIN は 4 文字以上です。")
#define M_PRESENCE TXT("E:The security key did not confirm that it was " \
	"touched.", \
	"E:セキュリティキーへのタッチを確認できませんでした。")
#define M_UV TXT("E:The security key did not verify the PIN.", \
	"E:セキュリティキーが PIN を確認しませんでした。")
#define M_SIG TXT("E:The answer of the security key could not be " \
	"verified.", \
	"E:セキュリティキーの応答を検証できませんでした。")
#define M_COUNTER TXT("E:This security key may have been copied. It was " \
	"refused and the administrator is notified.", \
	"E:このセキュリティキーは複製された可能性があります。" \
	"ログインを拒否し、管理者に通知しました。")
#define M_NO_KEY TXT("E:No security key was found. Insert your security " \
	"key and log in again.", \
	"E:セキュリティキーが見つかりません。" \
	"セキュリティキーを差し込んで、もう一度ログインしてください。")
#define M_REMOVED TXT("E:The security key was removed or stopped " \
	"responding.", \
	"E:セキュリティキーが抜かれたか、応答しなくなりました。")
#define M_TIMEOUT TXT("E:The security key was not touched in time.", \
	"E:時間内にセキュリティキーへのタッチがありませんでした。")
#define M_GLASS TXT("I:Emergency login without a security key. This " \
	"login is recorded and reported to the security officer.", \
	"I:セキュリティキーなしの緊急ログインです。" \
	"このログインは記録され、情報セキュリティ責任者に報告されます。")
#define M_NOT_ENROLLED TXT("E:No security key is registered for this " \
	"account. Ask the administrator to register one.", \
	"E:このアカウントにはセキュリティキーが登録されていません。" \
	"管理者に登録を依頼してください。")
#define M_NO_MATCH TXT("E:This security key is not registered for this " \
	"account.", \
	"E:このセキュリティキーは、このアカウントに登録されていません。")
#define M_SYSERR TXT("E:Security key login is not available because of a " \
	"system error. Ask the administrator.", \
	"E:システムエラーのため、" \
	"セキュリティキーによるログインを利用できません。" \
	"管理者に連絡してください。")
#define M_MODEL TXT("E:This model of security key is not allowed by the " \
	"policy.", \
	"E:この機種のセキュリティキーはポリシーで許可されていません。")
#define M_PIN_BLOCKED TXT("E:The PIN of this security key is blocked. Ask " \
	"the administrator.", \
	"E:このセキュリティキーの PIN はロックされています。" \
	"管理者に連絡してください。")
#define M_WRONG_PIN(n) FMT("E:Wrong PIN. %d attempts are left before the " \
	"key locks.", \
	"E:PIN が正しくありません。" \
	"あと %d 回間違えると、セキュリティキーがロックされます。", (n))
#define M_WRONG_PIN1 TXT("E:Wrong PIN. 1 attempt is left before the key " \
	"locks.", \
	"E:PIN が正しくありません。" \
	"あと 1 回間違えると、セキュリティキーがロックされます。")
#define M_LEFT(n) FMT("I:%d PIN attempts are left before the key locks.", \
	"I:あと %d 回 PIN を間違えると、" \
	"セキュリティキーがロックされます。", (n))
#define M_LOCKED(n, min) FMT("E:The account is locked after %d failed " \
	"logins. Try again in %d minutes.", \
	"E:ログインに %d 回失敗したため、アカウントはロックされています。" \
	"%d 分後にもう一度お試しください。", (n), (min))
#define M_LOCKED_ADMIN(n) FMT("E:The account is locked after %d failed " \
	"logins. Ask the administrator to unlock it.", \
	"E:ログインに %d 回失敗したため、アカウントはロックされています。" \
	"管理者にロックの解除を依頼してください。", (n))

/* ---- the cases --------------------------------------------------------- */

static void
reset(const char *name)
{
	static char names[16][300];
	char path[700];
	size_t n, i;

	case_name = name;
	keys_reset();
	n = list_drop(wpath("tally"), names, 16);
	for (i = 0; i < n && i < 16; i++) {
		xsnprintf(path, sizeof(path), "%s/tally/%s", work,
		    names[i]);
		(void)unlink(path);
	}
	n = list_drop(wpath("drop"), names, 16);
	CHECK(n == 0, "%zu stray event files before the case", n);
	for (i = 0; i < n && i < 16; i++) {
		xsnprintf(path, sizeof(path), "%s/drop/%s", work,
		    names[i]);
		(void)unlink(path);
	}
	plug(1, K1);
}

/* A success with K1 for taro, counter fields checked. */
static void
touch_ok(const char *service)
{
	long before = counter_file(K1), now;
	struct attempt a = { service, "taro", ANSWER, { NULL },
	    PAM_SUCCESS, { M_TOUCH } };

	run(&a);
	now = key_get(K1, "counter");
	CHECK(now > before, "the key's counter went up (%ld > %ld)", now,
	    before);
	CHECK(counter_file(K1) == now, "stored counter %ld = key %ld",
	    counter_file(K1), now);
	expect_event(MG_EV_LOGIN_SUCCEEDED, (struct fexp[]){
	    F(MG_F_REASON, NULL), F(MG_F_KEY_ID, keys[K1].id),
	    F(MG_F_KEY_RP, RP), F(MG_F_KEY_LABEL, "test key"),
	    F(MG_F_KEY_AAGUID, key_aaguid(K1)), F(MG_F_KEY_COUNTER, num(now)),
	    F(MG_F_KEY_STORED_COUNTER, before < 0 ? NULL : num(before)),
	    F(MG_F_LOGIN_FAILURES, NULL), F(MG_F_LOGIN_LOCKED_UNTIL, NULL),
	    FEND });
}

static void
case_touch(void)
{
	reset("touch only");
	touch_ok("mg-touch");
	touch_ok("mg-touch");	/* now with a stored counter */
}

static void
case_pin_ok(void)
{
	struct attempt a = { "mg-pin", "hanako", ANSWER, { PIN },
	    PAM_SUCCESS, { M_PROMPT } };
	long before, now;
	int i;

	reset("PIN ok");
	plug(1, K2);
	for (i = 0; i < 2; i++) {
		before = counter_file(K2);
		run(&a);
		now = key_get(K2, "counter");
		CHECK(now > before && counter_file(K2) == now,
		    "counter %ld -> %ld, file %ld", before, now,
		    counter_file(K2));
		CHECK(log_count("getassert", "pinauth=1 uv=1") == 1,
		    "one GetAssertion with pinUvAuthParam");
		expect_event(MG_EV_LOGIN_SUCCEEDED, (struct fexp[]){
		    F(MG_F_REASON, NULL), F(MG_F_KEY_ID, keys[K2].id),
		    F(MG_F_KEY_COUNTER, num(now)),
		    F(MG_F_KEY_STORED_COUNTER, before < 0 ? NULL :
		    num(before)), FEND });
	}
	/* Three or fewer retries left: the user is told first. */
	case_name = "PIN ok, 2 retries left";
	key_set(K2, "retries", "2");
	{
		struct attempt b = { "mg-pin", "hanako", ANSWER, { PIN },
		    PAM_SUCCESS, { M_LEFT(2), M_PROMPT } };

		run(&b);
	}
	CHECK(key_get(K2, "retries") == 8, "retries back to 8");
	expect_event(MG_EV_LOGIN_SUCCEEDED, (struct fexp[]){
	    F(MG_F_KEY_ID, keys[K2].id), FEND });
}

static void
case_pin_wrong(void)
{
	struct attempt a = { "mg-pin", "hanako", ANSWER, { "0000" },
	    PAM_AUTH_ERR, { M_PROMPT, M_WRONG_PIN(7) } };
	struct attempt b = { "mg-pin", "hanako", ANSWER, { "0000" },
	    PAM_AUTH_ERR, { M_LEFT(2), M_PROMPT, M_WRONG_PIN1 } };

	reset("wrong PIN");
	plug(1, K2);
	run(&a);
	CHECK(key_get(K2, "retries") == 7, "retries 7");
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "pin-invalid"), F(MG_F_KEY_ID, keys[K2].id),
	    F(MG_F_KEY_COUNTER, NULL), F(MG_F_LOGIN_FAILURES, "1"),
	    F(MG_F_LOGIN_LOCKED_UNTIL, NULL), FEND });
	CHECK(tally_count("hanako") == 1, "one failure counted");
	case_name = "wrong PIN, 1 left";
	key_set(K2, "retries", "2");
	run(&b);
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "pin-invalid"), F(MG_F_LOGIN_FAILURES, "2"),
	    FEND });
}

/* CVE-2021-31924: no PIN from the conversation (NULL response, failed
 * conversation, empty answer) is never a touch-only login: the key sees
 * no request that could log in. */
static void
case_pin_missing(void)
{
	static const enum answer_how hows[] = { ANSWER_NULL, ANSWER_CONV_ERR,
	    ANSWER };
	static const char *const names[] = { "PIN: NULL response",
	    "PIN: conversation error", "PIN: empty string" };
	size_t i;

	for (i = 0; i < 3; i++) {
		struct attempt a = { "mg-pin", "hanako", hows[i], { "" },
		    PAM_AUTH_ERR, { M_PROMPT, M_NO_PIN } };

		reset(names[i]);
		plug(1, K2);
		run(&a);
		/* The silent probe that finds the key (up=0, no PIN) is the
		 * one GetAssertion the key saw: nothing that could log in. */
		CHECK(log_count("getassert", NULL) == 1 &&
		    log_count("getassert", "up=0") == 1 &&
		    log_count("getassert", "pinauth") == 0,
		    "only the silent probe reached the key");
		CHECK(log_count("clientpin.getpintoken", NULL) == 0,
		    "no PIN token asked");
		CHECK(key_get(K2, "retries") == 8, "retries unchanged");
		expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
		    F(MG_F_REASON, "pin-missing"),
		    F(MG_F_KEY_ID, keys[K2].id), F(MG_F_KEY_COUNTER, NULL),
		    F(MG_F_LOGIN_FAILURES, "1"), FEND });
	}
}

static void
case_pin_format(void)
{
	struct attempt a = { "mg-pin", "hanako", ANSWER, { "１２３４" },
	    PAM_AUTH_ERR, { M_PROMPT, M_WIDE } };
	struct attempt b = { "mg-pin", "hanako", ANSWER, { "123" },
	    PAM_AUTH_ERR, { M_PROMPT, M_SHORT } };

	reset("full-width PIN");
	plug(1, K2);
	run(&a);
	CHECK(key_get(K2, "retries") == 8, "the key's retries unchanged");
	CHECK(log_count("getassert", "up=1") == 0 &&
	    log_count("clientpin.getpintoken", NULL) == 0,
	    "the PIN never reached the key");
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "pin-format"), F(MG_F_KEY_ID, keys[K2].id),
	    F(MG_F_KEY_COUNTER, NULL), FEND });
	case_name = "short PIN";
	run(&b);
	CHECK(key_get(K2, "retries") == 8, "the key's retries unchanged");
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "pin-format"), FEND });
}

static void
case_pin_blocked_or_unset(void)
{
	struct attempt a = { "mg-pin", "hanako", ANSWER, { PIN },
	    PAM_AUTH_ERR, { M_PIN_BLOCKED } };
	struct attempt b = { "mg-pin", "taro", ANSWER, { PIN },
	    PAM_AUTH_ERR, { M_NO_PIN_SET } };

	reset("PIN blocked");
	plug(1, K2);
	key_set(K2, "retries", "0");
	run(&a);
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "pin-blocked"), F(MG_F_KEY_ID, keys[K2].id),
	    FEND });
	reset("UV required, key without a PIN");
	run(&b);
	CHECK(log_count("getassert", "up=1") == 0, "no GetAssertion sent");
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "pin-missing"), F(MG_F_KEY_ID, keys[K1].id),
	    FEND });
}

/* A fault of the key: the attempt fails with reason and message. */
static void
fault(const char *name, const char *svc, enum key_ix k, const char *knob,
    const char *reason, const char *msg)
{
	struct attempt a = { svc, keys[k].user, ANSWER, { PIN },
	    PAM_AUTH_ERR, { k == K2 ? M_PROMPT : M_TOUCH, msg } };
	long stored;

	reset(name);
	plug(1, k);
	stored = counter_file(k);
	key_set(k, knob, "1");
	run(&a);
	CHECK(counter_file(k) == stored, "stored counter unchanged");
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, reason), F(MG_F_KEY_ID, keys[k].id),
	    F(MG_F_KEY_COUNTER, ANY), F(MG_F_LOGIN_FAILURES, "1"), FEND });
}

static void
case_faults(void)
{
	fault("presence missing", "mg-touch", K1, "drop_up",
	    "presence-missing", M_PRESENCE);
	fault("presence missing, PIN", "mg-pin", K2, "drop_up",
	    "presence-missing", M_PRESENCE);
	fault("UV missing", "mg-pin", K2, "drop_uv", "uv-missing", M_UV);
	fault("forged signature", "mg-touch", K1, "bad_sig",
	    "signature-invalid", M_SIG);
	fault("wrong relying party", "mg-touch", K1, "bad_rpid", "wrong-rp",
	    M_SIG);
}

static void
case_counter(void)
{
	struct attempt a = { "mg-touch", "taro", ANSWER, { NULL },
	    PAM_AUTH_ERR, { M_TOUCH, M_COUNTER } };
	long stored, sent;

	reset("counter regression");
	key_set_num(K1, "counter_set", counter_file(K1) + 100);
	touch_ok("mg-touch");
	stored = counter_file(K1);
	key_set(K1, "counter_set", "5");
	run(&a);
	sent = key_get(K1, "counter");
	CHECK(sent <= stored, "the key sent %ld <= %ld", sent, stored);
	CHECK(counter_file(K1) == stored, "stored counter unchanged");
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "counter-regression"), F(MG_F_KEY_ID, keys[K1].id),
	    F(MG_F_KEY_COUNTER, num(sent)),
	    F(MG_F_KEY_STORED_COUNTER, num(stored)), FEND });
	CHECK(ev.s.flags & MG_REC_F_CRITICAL, "critical");
	key_set_num(K1, "counter_set", stored + 10);
	case_name = "counter regression, then the real key";
	touch_ok("mg-touch");
	/* A counter that stays put is no better. */
	case_name = "counter frozen";
	stored = counter_file(K1);
	key_set(K1, "counter_freeze", "1");
	run(&a);
	CHECK(key_get(K1, "counter") == stored, "the key sent %ld again",
	    stored);
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "counter-regression"),
	    F(MG_F_KEY_COUNTER, num(stored)),
	    F(MG_F_KEY_STORED_COUNTER, num(stored)), FEND });
}

static void
case_no_key(void)
{
	struct attempt a = { "mg-touch", "taro", ANSWER, { NULL },
	    PAM_AUTH_ERR, { M_INSERT, M_NO_KEY } };

	reset("no key plugged in");
	setenv("SOFTKEY_STATE", "", 1);
	run(&a);
	CHECK(last_ms >= 950 && last_ms < 5000, "waited the key-timeout "
	    "(1 s): %llu ms", (unsigned long long)last_ms);
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "no-key"), F(MG_F_KEY_ID, NULL),
	    F(MG_F_KEY_COUNTER, NULL), F(MG_F_LOGIN_FAILURES, "1"), FEND });
}

/*
 * remove_after counts CTAPHID messages of one power-up: INIT, GetInfo
 * (fido_dev_open), the silent probe (no GetInfo for the model: no
 * key-models, and the enrolled AAGUID is known): the 4th, the
 * GetAssertion with the touch, finds the key gone.
 */
static void
case_removed(void)
{
	struct attempt a = { "mg-touch", "taro", ANSWER, { NULL },
	    PAM_AUTH_ERR, { M_TOUCH, M_REMOVED } };

	reset("key removed");
	key_set(K1, "remove_after", "3");
	run(&a);
	CHECK(log_count("removed", NULL) == 1, "the key was unplugged");
	CHECK(last_ms < 900, "no wait for a removed key: %llu ms",
	    (unsigned long long)last_ms);
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "key-removed"), F(MG_F_KEY_ID, keys[K1].id),
	    F(MG_F_KEY_COUNTER, NULL), FEND });
}

static void
case_timeout(void)
{
	struct attempt a = { "mg-touch", "taro", ANSWER, { NULL },
	    PAM_AUTH_ERR, { M_TOUCH, M_TIMEOUT } };

	reset("no touch");
	key_set(K1, "no_touch", "1");
	run(&a);
	CHECK(last_ms >= 700 && last_ms < 5000, "bounded by key-timeout: "
	    "%llu ms", (unsigned long long)last_ms);
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "timeout"), F(MG_F_KEY_ID, keys[K1].id),
	    F(MG_F_KEY_COUNTER, NULL), FEND });
	case_name = "touch after a timeout";
	key_set(K1, "no_touch", "0");
	touch_ok("mg-touch");
	/* A touch that comes late but in time (keepalives meanwhile). */
	case_name = "touch after 400 ms";
	key_set(K1, "touch_delay_ms", "400");
	touch_ok("mg-touch");
	CHECK(last_ms >= 400, "waited for the touch: %llu ms",
	    (unsigned long long)last_ms);
}

static void
case_lockout(void)
{
	struct attempt bad = { "mg-touch", "taro", ANSWER, { NULL },
	    PAM_AUTH_ERR, { M_TOUCH, M_SIG } };
	struct attempt last = { "mg-touch", "taro", ANSWER, { NULL },
	    PAM_AUTH_ERR, { M_TOUCH, M_SIG, M_LOCKED(THRESHOLD, 15) } };
	struct attempt locked = { "mg-touch", "taro", ANSWER, { NULL },
	    PAM_AUTH_ERR, { M_LOCKED(THRESHOLD, 15) } };
	const char *fl_list[] = { "faillock", "--dir", NULL, "--user",
	    "taro", NULL };
	const char *fl_reset[] = { "faillock", "--dir", NULL, "--user",
	    "taro", "--reset", NULL };
	static char out[4096];
	long until;
	int i;

	reset("lockout");
	key_set(K1, "bad_sig", "1");
	for (i = 1; i < THRESHOLD; i++) {
		run(&bad);
		expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
		    F(MG_F_REASON, "signature-invalid"),
		    F(MG_F_LOGIN_FAILURES, num(i)),
		    F(MG_F_LOGIN_LOCKED_UNTIL, NULL), FEND });
	}
	run(&last);
	until = (long)time(NULL) + 15 * 60;
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "signature-invalid"),
	    F(MG_F_LOGIN_FAILURES, num(THRESHOLD)),
	    F(MG_F_LOGIN_LOCKED_UNTIL, ANY), FEND });
	CHECK(labs(strtol(ev_field(MG_F_LOGIN_LOCKED_UNTIL) != NULL ?
	    ev_field(MG_F_LOGIN_LOCKED_UNTIL) : "0", NULL, 10) - until) <= 3,
	    "locked until now + 15 min");
	/* Locked: even the good key is not asked. */
	key_set(K1, "bad_sig", "0");
	case_name = "lockout: locked";
	run(&locked);
	CHECK(log_count("getassert", NULL) == 0, "the key was not asked");
	expect_event(MG_EV_LOGIN_LOCKED_OUT, (struct fexp[]){
	    F(MG_F_REASON, "locked"), F(MG_F_LOGIN_FAILURES, num(THRESHOLD)),
	    F(MG_F_LOGIN_LOCKED_UNTIL, ANY), F(MG_F_KEY_ID, NULL), FEND });
	/* faillock(8) reads the module's records and clears them. */
	case_name = "lockout: faillock --reset";
	fl_list[2] = fl_reset[2] = wpath("tally");
	CHECK(spawn(fl_list, out, sizeof(out)) == 0, "faillock --user");
	{
		unsigned n = 0;
		const char *p = out;

		while ((p = strstr(p, " V\n")) != NULL) {
			n++;
			p++;
		}
		CHECK(n == THRESHOLD, "faillock lists %u valid failures:\n%s",
		    n, out);
	}
	CHECK(spawn(fl_reset, out, sizeof(out)) == 0, "faillock --reset");
	touch_ok("mg-touch");
}

/* Dated records: an expired lock no longer counts, a recent one does. */
static void
case_dated(void)
{
	struct attempt a = { "mg-touch", "taro", ANSWER, { NULL },
	    PAM_AUTH_ERR, { M_LOCKED(THRESHOLD, 14) } };
	struct attempt b = { "mg-admin", "taro", ANSWER, { NULL },
	    PAM_AUTH_ERR, { M_LOCKED_ADMIN(THRESHOLD) } };
	long t;

	reset("automatic unlock");
	tally_write("taro", THRESHOLD, 3600);
	touch_ok("mg-touch");
	CHECK(tally_count("taro") == 0, "the tally was cleared");
	reset("locked a minute ago");
	t = tally_write("taro", THRESHOLD, 60);
	run(&a);
	expect_event(MG_EV_LOGIN_LOCKED_OUT, (struct fexp[]){
	    F(MG_F_REASON, "locked"), F(MG_F_LOGIN_FAILURES, num(THRESHOLD)),
	    F(MG_F_LOGIN_LOCKED_UNTIL, num(t + 15 * 60)), FEND });
	reset("locked until the administrator unlocks");
	tally_write("taro", THRESHOLD, 7200);
	run(&b);
	expect_event(MG_EV_LOGIN_LOCKED_OUT, (struct fexp[]){
	    F(MG_F_REASON, "locked"), F(MG_F_LOGIN_LOCKED_UNTIL, "0"),
	    FEND });
}

static void
case_accounts(void)
{
	struct attempt glass = { "mg-touch", "glass1", ANSWER, { NULL },
	    PAM_SUCCESS, { M_GLASS } };
	struct attempt nobody = { "mg-touch", "saburo", ANSWER, { NULL },
	    PAM_AUTH_ERR, { M_NOT_ENROLLED } };
	struct attempt exempt = { "mg-exempt", "daemon", ANSWER, { NULL },
	    PAM_SUCCESS, { NULL } };
	struct attempt unknown = { "mg-exempt", "no-such-user-mg", ANSWER,
	    { NULL }, PAM_AUTH_ERR, { M_NOT_ENROLLED } };

	reset("break-glass");
	setenv("SOFTKEY_STATE", "", 1);
	run(&glass);
	expect_event(MG_EV_LOGIN_BREAK_GLASS, (struct fexp[]){
	    F(MG_F_REASON, "break-glass"), F(MG_F_KEY_ID, NULL), FEND });
	reset("not enrolled");
	run(&nobody);
	CHECK(log_count("getassert", NULL) == 0, "no key asked");
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "not-enrolled"), F(MG_F_KEY_ID, NULL),
	    F(MG_F_LOGIN_FAILURES, "1"), FEND });
	/* The exempt service jumps over pam_deny only on PAM_IGNORE. */
	reset("require-key exempts the user");
	run(&exempt);
	expect_event(MG_EV_LOGIN_SUCCEEDED, (struct fexp[]){
	    F(MG_F_REASON, "key-not-required"), F(MG_F_KEY_ID, NULL), FEND });
	reset("require-key, user unknown to the system");
	run(&unknown);
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "not-enrolled"), FEND });
}

static void
case_several_keys(void)
{
	struct attempt ok = { "mg-touch", "jiro", ANSWER, { NULL },
	    PAM_SUCCESS, { M_TOUCH } };
	struct attempt other = { "mg-touch", "jiro", ANSWER, { NULL },
	    PAM_AUTH_ERR, { M_NO_MATCH } };
	struct attempt model = { "mg-models", "taro", ANSWER, { NULL },
	    PAM_AUTH_ERR, { M_MODEL } };

	reset("two keys plugged, one registered");
	plug(2, K3, K5);
	run(&ok);
	expect_event(MG_EV_LOGIN_SUCCEEDED, (struct fexp[]){
	    F(MG_F_REASON, NULL), F(MG_F_KEY_ID, keys[K5].id), FEND });
	reset("the other key of the same user");
	plug(2, K3, K4);
	run(&ok);
	expect_event(MG_EV_LOGIN_SUCCEEDED, (struct fexp[]){
	    F(MG_F_KEY_ID, keys[K4].id), FEND });
	reset("only someone else's key");
	plug(2, K3, K1);
	run(&other);
	CHECK(log_count("getassert", "up=1") == 0, "no touch asked");
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "no-matching-key"), F(MG_F_KEY_ID, NULL), FEND });
	reset("model allowed");
	touch_ok("mg-models-ok");
	reset("model not allowed");
	run(&model);
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "model-not-allowed"), F(MG_F_KEY_ID, keys[K1].id),
	    F(MG_F_KEY_AAGUID, ANY), F(MG_F_KEY_COUNTER, NULL), FEND });
}

static void
case_config(void)
{
	struct attempt badarg = { "mg-badarg", "taro", ANSWER, { NULL },
	    PAM_SERVICE_ERR, { NULL } };
	struct attempt badpol = { "mg-badpolicy", "taro", ANSWER, { NULL },
	    PAM_AUTHINFO_UNAVAIL, { M_SYSERR } };
	struct attempt nopol = { "mg-nopolicy", "taro", ANSWER, { NULL },
	    PAM_AUTHINFO_UNAVAIL, { M_SYSERR } };
	struct attempt badcred = { "mg-badcreds", "taro", ANSWER, { NULL },
	    PAM_SYSTEM_ERR, { M_SYSERR } };

	reset("unknown module argument");
	run(&badarg);
	expect_no_event();
	reset("group-writable policy");
	run(&badpol);
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "error"), FEND });
	reset("missing policy");
	run(&nopol);
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "error"), FEND });
	reset("group-writable credentials");
	run(&badcred);
	CHECK(log_count("getassert", NULL) == 0, "no key asked");
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "error"), F(MG_F_KEY_ID, NULL), FEND });
}

static void
case_modes(void)
{
	struct attempt pre_ok = { "mg-preauth", "taro", ANSWER, { NULL },
	    PAM_SUCCESS, { NULL } };
	struct attempt pre_locked = { "mg-preauth", "taro", ANSWER, { NULL },
	    PAM_AUTH_ERR, { M_LOCKED(THRESHOLD, 15) } };
	struct attempt fail = { "mg-authfail", "taro", ANSWER, { NULL },
	    PAM_AUTH_ERR, { NULL } };
	struct attempt fail_last = { "mg-authfail", "taro", ANSWER, { NULL },
	    PAM_AUTH_ERR, { M_LOCKED(THRESHOLD, 15) } };
	int i;

	reset("preauth, not locked");
	run(&pre_ok);
	expect_no_event();	/* the key step records the attempt */
	reset("authfail counts a wrong password");
	for (i = 1; i < THRESHOLD; i++) {
		run(&fail);
		CHECK(tally_count("taro") == (unsigned)i, "%u failures",
		    tally_count("taro"));
		expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
		    F(MG_F_REASON, "password"), F(MG_F_KEY_ID, NULL),
		    F(MG_F_LOGIN_FAILURES, num(i)), FEND });
	}
	run(&fail_last);
	expect_event(MG_EV_LOGIN_FAILED, (struct fexp[]){
	    F(MG_F_REASON, "password"), F(MG_F_LOGIN_FAILURES,
	    num(THRESHOLD)), F(MG_F_LOGIN_LOCKED_UNTIL, ANY), FEND });
	case_name = "preauth on a locked account";
	run(&pre_locked);
	expect_event(MG_EV_LOGIN_LOCKED_OUT, (struct fexp[]){
	    F(MG_F_REASON, "locked"), F(MG_F_LOGIN_FAILURES, num(THRESHOLD)),
	    F(MG_F_LOGIN_LOCKED_UNTIL, ANY), FEND });
}

static void (*const cases[])(void) = {
	case_touch, case_pin_ok, case_pin_wrong, case_pin_missing,
	case_pin_format, case_pin_blocked_or_unset, case_faults, case_counter,
	case_no_key, case_removed, case_timeout, case_lockout, case_dated,
	case_accounts, case_several_keys, case_config, case_modes,
};

/* ---- setup (before pam_wrapper reads the services) ---------------------- */

static void
write_policy(const char *name, mode_t mode, const char *extra,
    const char *creds)
{
	char text[2048];

	xsnprintf(text, sizeof(text),
	    "[devices]\ndefault block\n\n[login]\n%s"
	    "lockout-threshold = %d\nunlock-after = 15m\n"
	    "break-glass = glass1\ncredentials = %s\n"
	    "relying-party = " RP "\nkey-timeout = 1s\n", extra, THRESHOLD,
	    creds);
	write_file(wpath(name), mode, text);
}

static void
write_service(const char *dir, const char *svc, const char *ctl,
    const char *mode, const char *policy, const char *more)
{
	static char path[700], text[4096];
	const char *pd = pam_dir();

	xsnprintf(path, sizeof(path), "%s/%s", dir, svc);
	xsnprintf(text, sizeof(text),
	    "auth %s %s %s policy=%s socket=%s dropdir=%s tallydir=%s "
	    "counterdir=%s localedir=%s event_timeout=100%s\n", ctl,
	    module_path, mode, wpath(policy), wpath("no-agent.sock"),
	    wpath("drop"), wpath("tally"), wpath("counters"), locale_dir,
	    more);
	if (strcmp(svc, "mg-exempt") == 0) {
		size_t o = strlen(text);

		xsnprintf(text + o, sizeof(text) - o,
		    "auth requisite %s/pam_deny.so\n"
		    "auth required %s/pam_permit.so\n", pd, pd);
	}
	write_file(path, 0644, text);
}

static void
setup(void)
{
	const char *svcdir = getenv("PAM_WRAPPER_SERVICE_DIR");
	struct pmod_creds *creds = NULL;
	char text[600];
	int k, r;

	if (svcdir == NULL || getenv("PAM_WRAPPER") == NULL)
		die("run under pam_wrapper: PAM_WRAPPER=1 "
		    "PAM_WRAPPER_SERVICE_DIR=DIR "
		    "LD_PRELOAD=\"libpam_wrapper.so libsoftkey-preload.so\"");
	xsnprintf(work, sizeof(work), "/tmp/mg-pam.XXXXXX");
	if (mkdtemp(work) == NULL)
		die("mkdtemp: %s", strerror(errno));
	if (mkdir(wpath("drop"), 0700) < 0 || mkdir(wpath("tally"), 0755) < 0
	    || mkdir(wpath("keys"), 0700) < 0)
		die("mkdir: %s", strerror(errno));
	/* The keys, and their credentials in a safe and an unsafe file. */
	if ((r = pmod_creds_new(&creds)) < 0)
		die("creds: %s", strerror(-r));
	for (k = 0; k < K_COUNT; k++) {
		struct softkey *sk = NULL;

		xsnprintf(keys[k].path, sizeof(keys[k].path),
		    "%s/keys/%s.state", work, keys[k].name);
		if ((r = softkey_new(&sk)) < 0 || (keys[k].pin != NULL &&
		    (r = softkey_set_pin(sk, keys[k].pin)) < 0) ||
		    (r = softkey_save(sk, keys[k].path)) < 0)
			die("softkey %s: %s", keys[k].name, strerror(-r));
		softkey_free(sk);
		if (keys[k].user != NULL && enroll(creds, RP, keys[k].user,
		    keys[k].path, keys[k].pin, keys[k].id) < 0)
			die("enroll %s", keys[k].name);
	}
	if ((r = pmod_creds_save(wpath("creds"), creds)) < 0 ||
	    (r = pmod_creds_save(wpath("creds-unsafe"), creds)) < 0)
		die("save credentials: %s", strerror(-r));
	pmod_creds_free(creds);
	if (chmod(wpath("creds-unsafe"), 0620) < 0)
		die("chmod: %s", strerror(errno));
	/* The policies. */
	write_policy("touch.conf", 0644, "require-key = *\n"
	    "user-verification = not-required\n", wpath("creds"));
	write_policy("pin.conf", 0600, "require-key = *\n"
	    "user-verification = required\n", wpath("creds"));
	write_policy("exempt.conf", 0644, "require-key = someoneelse\n"
	    "user-verification = not-required\n", wpath("creds"));
	write_policy("unsafe.conf", 0664, "", wpath("creds"));
	write_policy("badcreds.conf", 0644, "user-verification = "
	    "not-required\n", wpath("creds-unsafe"));
	write_policy("models.conf", 0644, "user-verification = not-required\n"
	    "key-models = " OTHER_AAGUID "\n", wpath("creds"));
	xsnprintf(text, sizeof(text), "user-verification = not-required\n"
	    "key-models = " OTHER_AAGUID " %s\n", key_aaguid(K1));
	write_policy("models-ok.conf", 0644, text, wpath("creds"));
	xsnprintf(text, sizeof(text), "[devices]\ndefault block\n\n"
	    "[login]\nuser-verification = not-required\nlockout-threshold = "
	    "%d\nunlock-after = 0\ncredentials = %s\nrelying-party = " RP
	    "\nkey-timeout = 1s\n", THRESHOLD, wpath("creds"));
	write_file(wpath("admin.conf"), 0644, text);
	/* One service per configuration. */
	if (mkdir(svcdir, 0755) < 0 && errno != EEXIST)
		die("mkdir %s: %s", svcdir, strerror(errno));
	xsnprintf(text, sizeof(text), "auth required %s/pam_deny.so\n",
	    pam_dir());
	xsnprintf(text + 300, 300, "%s/other", svcdir);
	write_file(text + 300, 0644, text);
	write_service(svcdir, "mg-touch", "required", "", "touch.conf", "");
	write_service(svcdir, "mg-pin", "required", "", "pin.conf", "");
	write_service(svcdir, "mg-exempt", "[ignore=1 default=die]", "",
	    "exempt.conf", "");
	write_service(svcdir, "mg-badarg", "required", "", "touch.conf",
	    " bogus=1");
	write_service(svcdir, "mg-badpolicy", "required", "", "unsafe.conf",
	    "");
	write_service(svcdir, "mg-nopolicy", "required", "", "missing.conf",
	    "");
	write_service(svcdir, "mg-badcreds", "required", "", "badcreds.conf",
	    "");
	write_service(svcdir, "mg-models", "required", "", "models.conf", "");
	write_service(svcdir, "mg-models-ok", "required", "", "models-ok.conf",
	    "");
	write_service(svcdir, "mg-admin", "required", "", "admin.conf", "");
	write_service(svcdir, "mg-preauth", "requisite", "preauth",
	    "touch.conf", "");
	write_service(svcdir, "mg-authfail", "required", "authfail",
	    "touch.conf", "");
}

static int
run_all(void)
{
	static const struct {
		enum lang lang;
		const char *locale;
	} runs[] = {
		{ LANG_EN, "C.UTF-8" },
		{ LANG_JA, "ja_JP.UTF-8" },
		{ LANG_TTY1, "ja_JP.UTF-8" },
		{ LANG_TERM, "ja_JP.UTF-8" },
	};
	size_t i, c;
	int k;

	xsnprintf(work, sizeof(work), "%s", getenv("MG_PAMTEST_WORK"));
	for (k = 0; k < K_COUNT; k++) {
		char path[600];
		FILE *f;

		xsnprintf(keys[k].path, sizeof(keys[k].path),
		    "%s/keys/%s.state", work, keys[k].name);
		xsnprintf(path, sizeof(path), "%s/keys/%s.id", work,
		    keys[k].name);
		if ((f = fopen(path, "re")) != NULL) {
			if (fgets(keys[k].id, sizeof(keys[k].id), f) == NULL)
				keys[k].id[0] = '\0';
			fclose(f);
		}
	}
	setenv("SOFTKEY_LOG", wpath("softkey.log"), 1);
	unsetenv("LANGUAGE");	/* would override the locale */
	unsetenv("TERM");	/* TERM=linux means English */
	for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		lang = runs[i].lang;
		if (setlocale(LC_ALL, runs[i].locale) == NULL) {
			fprintf(stderr, "FAIL: locale %s is missing. Make it "
			    "with: localedef -i ja_JP -f UTF-8 ja_JP.UTF-8 "
			    "(or add it to /etc/locale.gen and run "
			    "locale-gen)\n", runs[i].locale);
			return 1;
		}
		fprintf(stderr, "== %s (LC_ALL=%s)\n", lang_names[lang],
		    runs[i].locale);
		for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			struct timespec t0, t1;

			(void)clock_gettime(CLOCK_MONOTONIC, &t0);
			cases[c]();
			(void)clock_gettime(CLOCK_MONOTONIC, &t1);
			if (getenv("MG_PAMTEST_TIMES") != NULL)
				fprintf(stderr, "  %-40s %6ld ms\n", case_name,
				    (long)(t1.tv_sec - t0.tv_sec) * 1000 +
				    (t1.tv_nsec - t0.tv_nsec) / 1000000);
		}
	}
	fprintf(stderr, "%u checks, %u failed\n", n_checks, n_failed);
	return n_failed == 0 ? 0 : 1;
}

/* ---- helpers for pam_stack.sh ------------------------------------------ */

static int
cmd_enroll(int argc, char **argv)
{
	struct pmod_creds *creds = NULL;
	struct pmod_diag diag = { 0 };
	char id[65];
	int r;

	if (argc < 6 || argc > 7)
		die("usage: pam_login enroll CREDFILE RP USER STATE [PIN]");
	r = pmod_creds_load(argv[2], &creds, &diag);
	if (r == -ENOENT)
		r = pmod_creds_new(&creds);
	if (r < 0)
		die("%s: %s %s", argv[2], strerror(-r), diag.msg);
	if (enroll(creds, argv[3], argv[4], argv[5], argc == 7 ? argv[6] :
	    NULL, id) < 0 || (r = pmod_creds_save(argv[2], creds)) < 0)
		die("enroll failed");
	pmod_creds_free(creds);
	printf("%s\n", id);
	return 0;
}

static int
cmd_events(int argc, char **argv)
{
	static char names[64][300];
	static const struct {
		enum mg_field id;
		const char *name;
	} fields[] = {
		{ MG_F_REASON, "reason" }, { MG_F_USER, "user" },
		{ MG_F_LOGIN_SERVICE, "service" },
		{ MG_F_LOGIN_FAILURES, "failures" },
		{ MG_F_LOGIN_LOCKED_UNTIL, "locked_until" },
		{ MG_F_KEY_ID, "key" },
	};
	size_t n, i, k;
	const char *v;
	int r;

	if (argc != 3)
		die("usage: pam_login events DROPDIR");
	n = list_drop(argv[2], names, 64);
	if (n > 64)
		die("too many events");
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (i = 0; i < n; i++) {
		char path[700];
		int fd;
		ssize_t len;
		const char *why = NULL;

		xsnprintf(path, sizeof(path), "%s/%s", argv[2], names[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		len = fd < 0 ? -1 : read(fd, ev.buf, sizeof(ev.buf));
		if (fd >= 0)
			close(fd);
		(void)unlink(path);
		r = len < 0 ? -EIO : mg_ipc_decode(ev.buf, (size_t)len, &ev.s,
		    &why);
		if (r != MG_IPC_SUBMIT) {
			printf("bad %s\n", names[i]);
			continue;
		}
		printf("%s", mg_event_action(ev.s.type));
		for (k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
			if ((v = ev_field(fields[k].id)) != NULL)
				printf(" %s=%s", fields[k].name, v);
		printf("\n");
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *stage = getenv("MG_PAMTEST_WORK");
	pid_t pid;
	int r, k, st = 0;

	fido_init(0);
	if (argc > 1 && strcmp(argv[1], "enroll") == 0)
		return cmd_enroll(argc, argv);
	if (argc > 1 && strcmp(argv[1], "events") == 0)
		return cmd_events(argc, argv);
	if (argc != 3)
		die("usage: pam_login MODULE LOCALEDIR");
	module_path = argv[1];
	locale_dir = argv[2];
	if (stage == NULL) {
		setup();
		for (k = 0; k < K_COUNT; k++) {
			char path[600];

			xsnprintf(path, sizeof(path), "%s/keys/%s.id",
			    work, keys[k].name);
			write_file(path, 0600, keys[k].id);
		}
		/* A child, not exec(): pam_wrapper removes its own copy of
		 * the services only when a process exits. */
		setenv("MG_PAMTEST_WORK", work, 1);
		if ((r = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv,
		    environ)) != 0)
			die("spawn: %s", strerror(r));
		while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
			;
		cleanup();
		if (r < 0 || !WIFEXITED(st)) {
			fprintf(stderr, "pam_login: the test process died "
			    "(%s)\n", r < 0 ? strerror(errno) :
			    WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "?");
			return 1;
		}
		return WEXITSTATUS(st);
	}
	return run_all();
}
