#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The town's private CA for mynaguard and the certificates it issues: the
# collector's TLS server certificate, one TLS client certificate per
# terminal (its key also signs the terminal's events) and one per reviewer.
# Everything is ECDSA P-256 with SHA-256, made with the openssl command line
# alone (OpenSSL 3.0).  docs/certificates.md explains it for the
# administrator, including the same commands done by hand.
#
# Usage:
#   tools/mkcerts.sh ca DIR                      town CA: DIR/ca.key, DIR/ca.pem
#   tools/mkcerts.sh server DIR NAME [SAN...]    collector: DIR/NAME.{key,pem}
#   tools/mkcerts.sh terminal DIR AGENT_ID       terminal:  DIR/AGENT_ID.{key,pem}
#   tools/mkcerts.sh reviewer DIR NAME           reviewer:  DIR/NAME.{key,pem}
#   tools/mkcerts.sh policy-signer DIR NAME      policy signing (offline key,
#                                                never TLS): DIR/NAME.{key,pem}
# Test only (for the TLS refusal tests):
#   tools/mkcerts.sh expired DIR AGENT_ID        DIR/AGENT_ID-expired.{key,pem}
#   tools/mkcerts.sh wrongca DIR AGENT_ID        DIR/wrongca/ca.{key,pem} and
#                                                DIR/AGENT_ID-wrongca.{key,pem}
#   tools/mkcerts.sh server-wrongname DIR NAME   DIR/NAME.{key,pem}, no localhost
#
# SAN arguments are DNS:name or IP:address; the server certificate always
# has DNS:NAME, and for NAME=localhost the default extras are
# DNS:localhost,IP:127.0.0.1,IP:::1.
#
# Subjects: the CA is /O=ORG/OU=mynaguard/CN=CA_CN; issued certificates are
# /O=ORG/OU=ROLE/CN=NAME where ORG is copied from the CA and ROLE is
# "terminal", "reviewer", "collector" or "policy-signer".  A collector accepts events only
# from OU=terminal certificates, whose CN is the agent id, and review access
# only from OU=reviewer ones.  A policy-signer certificate has extended key
# usage codeSigning only, so no TLS peer accepts it; the agents pin it to
# verify signed policy bundles (docs/policy-bundles.md).  ORG and CA_CN are set when the CA is made:
#   MKCERTS_ORG    default "Town of Example"
#   MKCERTS_CA_CN  default "Example Town mynaguard CA"
#
# Nothing existing is ever overwritten: to renew, move the old NAME.key and
# NAME.pem aside and issue again.  Every issued certificate is checked with
# openssl verify before it is put in DIR; on any failure nothing is left.
set -euo pipefail
export LC_ALL=C
umask 077

prog=${0##*/}
CA_DAYS=3650
LEAF_DAYS=825

die() { echo "$prog: $*" >&2; exit 1; }
usage() {
	sed -n '/^# Usage:/,/^# Test only/{s/^# \{0,1\}//;/^Test only/d;p}' "$0" >&2
	echo "test only: $prog {expired|wrongca|server-wrongname} DIR NAME" >&2
	exit 2
}

tmp=
cleanup() { if [ -n "$tmp" ]; then rm -rf -- "$tmp"; fi; }
trap cleanup EXIT

# run CMD...: run quietly; on failure show everything it said, and stop.
run() {
	if ! "$@" >"$tmp/log" 2>&1; then
		echo "$prog: failed: $*" >&2
		cat "$tmp/log" >&2
		exit 1
	fi
}

# An agent id (also used for reviewer names): 1-64 of [A-Za-z0-9._-], not
# starting with "." or "-".  It becomes a file name and a certificate CN.
valid_id() { [[ $1 =~ ^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$ ]]; }

# A host name: dot-separated labels of [A-Za-z0-9-], not starting or ending
# with "-", at most 253 characters; not an IPv4 address (give those as IP:).
valid_host() {
	local label
	[ ${#1} -ge 1 ] && [ ${#1} -le 253 ] || return 1
	[[ $1 =~ ^[0-9.]+$ ]] && return 1
	local IFS=.
	for label in $1; do
		[[ $label =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$ ]] ||
			return 1
	done
	[[ $1 != *. && $1 != .* && $1 != *..* ]]
}

valid_ipv4() {
	local o
	[[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
	local IFS=.
	for o in $1; do [ "$((10#$o))" -le 255 ] || return 1; done
}

# Syntax only; openssl itself rejects an address it cannot parse.
valid_ipv6() { [[ $1 == *:* && $1 =~ ^[0-9A-Fa-f:.]{2,45}$ ]]; }

# Escape a value for -subj: backslash, "/" and "+" are special there.
subj_escape() {
	local s=${1//\\/\\\\}
	s=${s//\//\\/}
	printf '%s' "${s//+/\\+}"
}

# subject_field CERT FIELD: one field (O, CN) of a certificate's subject,
# as UTF-8 without any escaping (a value never holds a control character).
subject_field() {
	openssl x509 -in "$1" -noout -subject -nameopt sep_multiline,sname,utf8 |
	    sed -n "s/^ *$2=//p" | head -n 1
}

serial() { echo "0x$(openssl rand -hex 16)"; }

# newkey FILE: an EC P-256 key (PKCS#8 PEM, named curve), mode 0600.
newkey() {
	run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -pkeyopt ec_param_enc:named_curve -out "$1"
	chmod 0600 "$1"
}

# Refuse when any of the given files already exists.
no_clobber() {
	local f
	for f; do
		if [ -e "$f" ] || [ -L "$f" ]; then
			die "$f already exists; refusing to overwrite it" \
			    "(move it aside first to renew)"
		fi
	done
}

# begin DIR: a scratch directory inside DIR, so that the final mv into DIR
# is a rename and no key ever lands in a shared temporary directory.
begin() {
	local t
	[ -d "$1" ] || die "$1: no such directory"
	t=$(mktemp -d "$1/.mkcerts.XXXXXX")
	tmp=$t
	tmp=$(cd -- "$t" && pwd -P)
}

# need_ca DIR: DIR holds a CA certificate and key.
need_ca() {
	[ -f "$1/ca.pem" ] ||
		die "$1/ca.pem: no CA here (create one with: $prog ca $1)"
	[ -f "$1/ca.key" ] || die "$1/ca.key: the CA key is missing"
}

# install SRC DEST MODE: move a finished file into place and report it.
install_file() {
	chmod "$3" "$1"
	mv -- "$1" "$2"
}

describe_key() { echo "created $1 (EC P-256 private key, mode 0600)"; }
describe_cert() {
	echo "created $1"
	openssl x509 -in "$1" -noout -subject -serial -enddate \
	    -nameopt oneline,-esc_msb,utf8 | sed 's/^/    /'
}

check_ca_names() {
	if [ -z "$1" ] || [ -z "$2" ] || [[ $1$2 == *[[:cntrl:]]* ]]; then
		die "the CA's organisation and name must be non-empty text"
	fi
}

# make_ca DIR ORG CN: a self-signed CA certificate and its key.
make_ca() {
	local dir=$1 org=$2 cn=$3
	check_ca_names "$org" "$cn"
	no_clobber "$dir/ca.key" "$dir/ca.pem"
	cat >"$tmp/ca.cnf" <<-'EOF'
	[ ca_ext ]
	basicConstraints = critical, CA:TRUE, pathlen:0
	keyUsage = critical, keyCertSign, cRLSign
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid
	EOF
	newkey "$tmp/ca.key"
	# Our own -config, not the system openssl.cnf, whose x509_extensions
	# req -x509 would add; req has no -extfile.
	run openssl req -new -x509 -config "$tmp/ca.cnf" -utf8 -sha256 \
	    -key "$tmp/ca.key" -days "$CA_DAYS" -set_serial "$(serial)" \
	    -subj "/O=$(subj_escape "$org")/OU=mynaguard/CN=$(subj_escape "$cn")" \
	    -extensions ca_ext -out "$tmp/ca.pem"
	# Self-signed: verifying against itself checks signature and form.
	run openssl verify -x509_strict -CAfile "$tmp/ca.pem" "$tmp/ca.pem"
	same_key "$tmp/ca.key" "$tmp/ca.pem"
	install_file "$tmp/ca.key" "$dir/ca.key" 0600
	install_file "$tmp/ca.pem" "$dir/ca.pem" 0644
	describe_key "$dir/ca.key"
	describe_cert "$dir/ca.pem"
}

# same_key KEY CERT: the certificate is for this key.
same_key() {
	local a b
	a=$(openssl pkey -in "$1" -pubout) || die "$1: cannot read key"
	b=$(openssl x509 -in "$2" -noout -pubkey) || die "$2: cannot read"
	[ "$a" = "$b" ] || die "$2 does not match $1"
}

# ext_leaf ROLE SAN: write the extension section for an issued certificate.
ext_leaf() {
	{
		echo "[ leaf ]"
		echo "basicConstraints = critical, CA:FALSE"
		echo "keyUsage = critical, digitalSignature"
		if [ "$1" = server ]; then
			echo "extendedKeyUsage = serverAuth"
			echo "subjectAltName = $2"
		elif [ "$1" = policy-signer ]; then
			# Critical, and no TLS purpose: TLS code that checks
			# the purpose (OpenSSL, GnuTLS) refuses it.
			echo "extendedKeyUsage = critical, codeSigning"
		else
			echo "extendedKeyUsage = clientAuth"
		fi
		echo "subjectKeyIdentifier = hash"
		echo "authorityKeyIdentifier = keyid:always"
	} >"$tmp/leaf.cnf"
}

# issue CADIR OUTDIR BASE ROLE CN SAN [STARTDATE ENDDATE]: key, request and
# certificate BASE.{key,pem} in OUTDIR, signed by the CA in CADIR.  With
# dates (YYYYMMDDHHMMSSZ) it is signed by "openssl ca", the only OpenSSL 3.0
# command that accepts an explicit validity; otherwise by "openssl x509".
issue() {
	local cadir=$1 outdir=$2 base=$3 role=$4 cn=$5 san=$6
	local start=${7:-} end=${8:-} ou org purpose
	case $role in
	server) ou=collector purpose=sslserver ;;
	policy-signer) ou=$role purpose=any ;;	# 3.0 has no codeSigning purpose
	*) ou=$role purpose=sslclient ;;
	esac
	no_clobber "$outdir/$base.key" "$outdir/$base.pem"
	org=$(subject_field "$cadir/ca.pem" O)
	[ -n "$org" ] || die "$cadir/ca.pem: the CA subject has no O="
	ext_leaf "$role" "$san"
	newkey "$tmp/$base.key"
	run openssl req -new -config /dev/null -utf8 -sha256 \
	    -key "$tmp/$base.key" -out "$tmp/$base.csr" \
	    -subj "/O=$(subj_escape "$org")/OU=$ou/CN=$(subj_escape "$cn")"
	if [ -z "$start" ]; then
		run openssl x509 -req -in "$tmp/$base.csr" -sha256 \
		    -CA "$cadir/ca.pem" -CAkey "$cadir/ca.key" \
		    -set_serial "$(serial)" -days "$LEAF_DAYS" \
		    -extfile "$tmp/leaf.cnf" -extensions leaf \
		    -out "$tmp/$base.pem"
	else
		# Paths in the configuration are relative to $tmp: openssl
		# would expand a "$" in DIR there.
		local cacert cakey
		cacert=$(cd -- "$cadir" && pwd -P)/ca.pem
		cakey=$(cd -- "$cadir" && pwd -P)/ca.key
		mkdir "$tmp/db"
		: >"$tmp/db/index.txt"
		openssl rand -hex 16 >"$tmp/db/serial"
		cat >"$tmp/ca.cnf" <<-'EOF'
		[ ca ]
		default_ca = tmp_ca
		[ tmp_ca ]
		database = db/index.txt
		serial = db/serial
		new_certs_dir = db
		unique_subject = no
		policy = policy_any
		default_md = sha256
		email_in_dn = no
		copy_extensions = none
		[ policy_any ]
		organizationName = optional
		organizationalUnitName = optional
		commonName = supplied
		EOF
		cat "$tmp/leaf.cnf" >>"$tmp/ca.cnf"
		(cd -- "$tmp" && run openssl ca -batch -config ca.cnf -notext \
		    -cert "$cacert" -keyfile "$cakey" \
		    -preserveDN -utf8 -md sha256 -extensions leaf \
		    -startdate "$start" -enddate "$end" \
		    -in "$base.csr" -out "$base.pem")
	fi
	same_key "$tmp/$base.key" "$tmp/$base.pem"
	if [ -z "$start" ]; then
		local check=(-purpose "$purpose")
		[ "$role" = server ] && check+=(-verify_hostname "$cn")
		run openssl verify -x509_strict "${check[@]}" \
		    -CAfile "$cadir/ca.pem" "$tmp/$base.pem"
		if [ "$role" = policy-signer ]; then
			not_tls "$cadir/ca.pem" "$tmp/$base.pem"
		fi
	else
		# Expired on purpose: chain and signature must still be
		# right, and it must really be expired.
		run openssl verify -x509_strict -no_check_time \
		    -purpose "$purpose" -CAfile "$cadir/ca.pem" \
		    "$tmp/$base.pem"
		if openssl x509 -in "$tmp/$base.pem" -noout -checkend 0 \
		    >/dev/null; then
			die "$base.pem: meant to be expired, but is not"
		fi
		if openssl verify -CAfile "$cadir/ca.pem" "$tmp/$base.pem" \
		    >/dev/null 2>&1; then
			die "$base.pem: expired, yet openssl verify accepts it"
		fi
	fi
	install_file "$tmp/$base.key" "$outdir/$base.key" 0600
	install_file "$tmp/$base.pem" "$outdir/$base.pem" 0644
	describe_key "$outdir/$base.key"
	describe_cert "$outdir/$base.pem"
}

# not_tls CA CERT: a policy-signing certificate must fail both TLS purposes.
not_tls() {
	local p
	for p in sslclient sslserver; do
		if openssl verify -x509_strict -purpose "$p" -CAfile "$1" \
		    "$2" >/dev/null 2>&1; then
			die "$2: a policy-signing certificate passes as $p"
		fi
	done
}

# server_san NAME [SAN...]: the subjectAltName value for a server.
server_san() {
	local name=$1 s v list
	shift
	if [ $# -eq 0 ] && [ "$name" = localhost ]; then
		set -- DNS:localhost IP:127.0.0.1 IP:::1
	fi
	list="DNS:$name"
	for s; do
		v=${s#*:}
		case $s in
		DNS:*) valid_host "$v" || die "$s: not a valid host name" ;;
		IP:*)
			valid_ipv4 "$v" || valid_ipv6 "$v" ||
				die "$s: not a valid IP address"
			;;
		*) die "$s: a SAN is DNS:name or IP:address" ;;
		esac
		case ",$list," in
		*",$s,"*) ;;
		*) list+=",$s" ;;
		esac
	done
	printf '%s' "$list"
}

[ $# -ge 2 ] || usage
cmd=$1 dir=${2%/}
[ -n "$dir" ] || dir=/
shift 2

case $cmd in
ca)
	[ $# -eq 0 ] || usage
	if [ -e "$dir/ca.key" ] || [ -e "$dir/ca.pem" ]; then
		die "$dir already holds a CA; refusing to overwrite it"
	fi
	org=${MKCERTS_ORG:-Town of Example}
	cn=${MKCERTS_CA_CN:-Example Town mynaguard CA}
	check_ca_names "$org" "$cn"
	mkdir -p -- "$dir"
	begin "$dir"
	make_ca "$dir" "$org" "$cn"
	;;
server | server-wrongname)
	[ $# -ge 1 ] || usage
	name=$1
	shift
	valid_host "$name" || die "$name: not a valid host name"
	if [ "$cmd" = server-wrongname ]; then
		[ $# -eq 0 ] || usage
		shopt -s nocasematch
		[[ $name == localhost || $name == *.localhost ||
		    $name == localhost.* ]] &&
			die "$name: server-wrongname needs a name that is" \
			    "not localhost"
		shopt -u nocasematch
		san="DNS:$name"
	else
		san=$(server_san "$name" "$@")
	fi
	need_ca "$dir"
	begin "$dir"
	issue "$dir" "$dir" "$name" server "$name" "$san"
	;;
terminal | reviewer | policy-signer | expired | wrongca)
	[ $# -eq 1 ] || usage
	id=$1
	valid_id "$id" || die "$id: not a valid agent id (1-64 characters" \
	    "of A-Z a-z 0-9 . _ -, not starting with . or -)"
	case $cmd in
	terminal | reviewer | policy-signer)
		need_ca "$dir"
		begin "$dir"
		issue "$dir" "$dir" "$id" "$cmd" "$id" ""
		;;
	expired)
		need_ca "$dir"
		begin "$dir"
		# Valid for a month that ended yesterday.
		issue "$dir" "$dir" "$id-expired" terminal "$id" "" \
		    "$(date -u -d '31 days ago' +%Y%m%d%H%M%SZ)" \
		    "$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)"
		;;
	wrongca)
		# An impostor CA with the town CA's name (when there is one)
		# but its own key: a peer must check signatures, not names.
		mkdir -p -- "$dir/wrongca"
		begin "$dir"
		if [ -f "$dir/wrongca/ca.pem" ]; then
			echo "using existing $dir/wrongca/ca.pem"
		else
			org="Town of Example" cn="Example Town mynaguard CA"
			if [ -f "$dir/ca.pem" ]; then
				org=$(subject_field "$dir/ca.pem" O)
				cn=$(subject_field "$dir/ca.pem" CN)
			fi
			make_ca "$dir/wrongca" "$org" "$cn"
		fi
		need_ca "$dir/wrongca"
		issue "$dir/wrongca" "$dir" "$id-wrongca" terminal "$id" ""
		if [ -f "$dir/ca.pem" ] && openssl verify -CAfile "$dir/ca.pem" \
		    "$dir/$id-wrongca.pem" >/dev/null 2>&1; then
			rm -f -- "$dir/$id-wrongca.key" "$dir/$id-wrongca.pem"
			die "$id-wrongca.pem verifies against $dir/ca.pem"
		fi
		;;
	esac
	;;
*)
	usage
	;;
esac
