#!/usr/bin/env bash
# The conformance checks of cmd/evalrun/conformance_test.go against server
# stacks this project did not write: nginx (Debian's nginx-light, answering
# the Optimly shape with `return 200`) and Node's http module. `evalrun run`
# (built from this tree) replays CONVERSATIONS conversations of a new chat
# and 3 turns with INFLIGHT in flight against each server setup, and one
# table says, per setup:
#
#   - the requests the server logged == the attempts evalrun charged
#     (requests <= attempts when the server closes idle connections: a
#     request written into a socket the server just closed is charged but
#     never read — never the other way);
#   - no request id seen twice, and (Node, which reads the bodies) no
#     (chat, message) pair processed twice; nginx does not read the body
#     with `return`, so there it is "requests <= calls": no call reached it
#     twice;
#   - the TCP connections the server accepted (nginx: distinct $connection;
#     Node: 'connection' events), at most INFLIGHT+2 where it keeps them
#     alive.
#
# Everything listens on 127.0.0.1. nginx-light is installed with apt-get
# (as root) when nginx is missing; Node is used when `node` is on PATH.
#
#   bench/servers.sh
#   CONVERSATIONS=48 INFLIGHT=20 bench/servers.sh
#   EVALRUN=/path/to/evalrun bench/servers.sh    # another build, e.g. an older one
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS=${CONVERSATIONS:-24}
INFLIGHT=${INFLIGHT:-10}
KEY=k-servers-bench
export OPTIMLY_API_KEY=$KEY

if ! command -v nginx >/dev/null && [[ -x /usr/sbin/nginx ]]; then PATH=$PATH:/usr/sbin; fi
if ! command -v nginx >/dev/null; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "nginx is missing: install the Debian package (sudo apt-get install nginx-light) and run again" >&2
		exit 1
	fi
	echo "installing nginx-light (Debian package)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
fi
command -v jq >/dev/null || { echo "jq is missing (apt-get install jq)" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
if [[ -n ${EVALRUN:-} ]]; then
	cp "$EVALRUN" "$tmp/evalrun"
else
	go build -o "$tmp/evalrun" ./cmd/evalrun
fi
export EVALRUN_LEDGER=$tmp/ledger.json

# suite THINK: CONVERSATIONS conversations of three turns, THINK before each.
suite() {
	local f=$tmp/suite-$1.yaml
	{
		echo "name: servers"
		echo "repeat: $CONVERSATIONS"
		echo "turns:"
		for i in 1 2 3; do
			echo "  - user: \"turn $i\""
			[[ $1 == 0 ]] || echo "    think: $1"
		done
	} >"$f"
	echo "$f"
}

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# waitport PORT: until something listens on 127.0.0.1:PORT.
waitport() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	return 1
}

# run URL THINK: evalrun against URL; prints "passed calls attempts".
run() {
	local out=$tmp/result.json
	rm -f "$out"
	"$tmp/evalrun" run --quiet --target "$1" --concurrency "$INFLIGHT" --timeout 10s --quota 1000000 \
		--retry-allowance 1 --out "$out" "$(suite "$2")" >"$tmp/evalrun.out" 2>&1 || true
	if [[ ! -s $out ]]; then
		echo "evalrun wrote no result:" >&2
		cat "$tmp/evalrun.out" >&2
		echo "0 0 0"
		return
	fi
	jq -r '.totals | "\(.passed) \(.calls) \(.attempts)"' "$out"
}

rows=()
# row SERVER SETUP KEEPALIVE PASSED CALLS ATTEMPTS REQUESTS DUPIDS DUPPAIRS CONNS DROPS
row() {
	local server=$1 setup=$2 keep=$3 passed=$4 calls=$5 attempts=$6 requests=$7 dupids=$8 duppairs=$9 conns=${10} drops=${11}
	local ok=ok
	if ((requests > attempts)); then ok="FAIL: uncharged requests"; fi
	if [[ $drops == no ]] && ((requests != attempts)); then ok="FAIL: requests != attempts"; fi
	if [[ $duppairs == - ]] && ((requests > calls)); then ok="FAIL: a call reached the server twice"; fi
	if [[ $dupids != 0 ]] || [[ $duppairs != - && $duppairs != 0 ]]; then ok="FAIL: processed twice"; fi
	if [[ $keep == yes ]] && ((conns > INFLIGHT + 2)); then ok="FAIL: $conns connections"; fi
	rows+=("| $server | $setup | $passed/$CONVERSATIONS | $calls | $attempts | $requests | $dupids | $duppairs | $conns | $ok |")
}

# --- nginx ---------------------------------------------------------------
# nginx_case SETUP KEEPALIVE THINK DROPS DIRECTIVES...
nginx_case() {
	local setup=$1 keep=$2 think=$3 drops=$4
	shift 4
	local port d=$tmp/nginx
	port=$(freeport)
	rm -rf "$d"
	mkdir -p "$d/logs" "$d/tmp"
	cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 4096; }
http {
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	log_format conf '\$connection \$connection_requests \$request_method \$uri \$status \$http_x_request_id \$sent_http_content_encoding';
	access_log $d/logs/access.log conf;
	default_type application/json;
	$*
	server {
		listen 127.0.0.1:$port;
		location = /health { return 200 '{"status":"ok"}'; }
		location = /external/message/new-chat { return 200 '{"chat_id":"chat_\$request_id","status":"active"}'; }
		location = /external/agent/v2 { return 200 '{"response":"ok from nginx","message_id":"msg_\$request_id"}'; }
	}
}
EOF
	nginx -p "$d" -c "$d/nginx.conf" &
	local pid=$!
	pids+=("$pid")
	waitport "$port"
	read -r passed calls attempts < <(run "http://127.0.0.1:$port" "$think")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	local log=$d/logs/access.log
	local requests dupids conns
	requests=$(awk '$3 == "POST"' "$log" | wc -l)
	dupids=$(awk '$3 == "POST" {print $6}' "$log" | sort | uniq -d | wc -l)
	conns=$(awk '{print $1}' "$log" | sort -u | wc -l)
	local gz
	gz=$(awk '$3 == "POST" && $7 == "gzip"' "$log" | wc -l)
	((gz == 0)) || setup="$setup: $gz answers gzipped"
	row "nginx $(nginx -v 2>&1 | sed 's|.*/||')" "$setup" "$keep" "$passed" "$calls" "$attempts" "$requests" "$dupids" - "$conns" "$drops"
}

nginx_case "keep-alive (75 s)" yes 0 no "keepalive_timeout 75s;"
nginx_case "keepalive_requests 5" no 0 no "keepalive_timeout 75s; keepalive_requests 5;"
nginx_case "keepalive_timeout 50ms, think 70ms" no 70ms yes "keepalive_timeout 50ms;"
nginx_case "keepalive_timeout 0 (Connection: close)" no 0 no "keepalive_timeout 0;"
nginx_case "gzip on (asked by net/http)" yes 0 no "keepalive_timeout 75s; gzip on; gzip_types application/json; gzip_min_length 0;"

# --- Node ----------------------------------------------------------------
if command -v node >/dev/null; then
	cat >"$tmp/server.js" <<'EOF'
// An Optimly-shaped agent on Node's http module that counts what it gets.
const http = require('http');
const opt = JSON.parse(process.env.OPTS || '{}');
let requests = 0, conns = 0, seq = 0;
const ids = new Map(), pairs = new Map();
const bump = (m, k) => m.set(k, (m.get(k) || 0) + 1);
const server = http.createServer((req, res) => {
	if (req.url === '/__stats') {
		const dup = m => [...m.values()].filter(n => n > 1).length;
		res.end(JSON.stringify({requests, conns, dupIDs: dup(ids), dupPairs: dup(pairs)}));
		return;
	}
	let body = '';
	req.on('data', c => body += c);
	req.on('end', () => {
		let out;
		if (req.method === 'GET' && req.url === '/health') {
			out = '{"status":"ok"}';
		} else {
			requests++;
			bump(ids, req.headers['x-request-id'] || '');
			const b = JSON.parse(body || '{}');
			if (req.url === '/external/message/new-chat') {
				bump(pairs, 'new|' + b.client_id);
				out = JSON.stringify({chat_id: 'chat_' + (++seq), client_id: b.client_id, status: 'active'});
			} else {
				bump(pairs, b.chat_id + '|' + b.content);
				out = JSON.stringify({chat_id: b.chat_id, response: 'ok from node', message_id: 'msg_' + (++seq)});
			}
		}
		res.setHeader('Content-Type', 'application/json');
		if (opt.close) res.setHeader('Connection', 'close');
		if (opt.chunked) {
			const h = out.length >> 1;
			res.write(out.slice(0, h));
			setImmediate(() => res.end(out.slice(h)));
		} else {
			res.setHeader('Content-Length', Buffer.byteLength(out));
			res.end(out);
		}
	});
});
server.on('connection', () => conns++);
if (opt.keepAliveMs) server.keepAliveTimeout = opt.keepAliveMs;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
EOF
	# node_case SETUP KEEPALIVE THINK DROPS OPTS
	node_case() {
		local setup=$1 keep=$2 think=$3 drops=$4 opts=$5
		OPTS=$opts node "$tmp/server.js" >"$tmp/node.port" &
		local pid=$!
		pids+=("$pid")
		for _ in $(seq 100); do [[ -s $tmp/node.port ]] && break; sleep 0.05; done
		local port
		port=$(head -n1 "$tmp/node.port")
		read -r passed calls attempts < <(run "http://127.0.0.1:$port" "$think")
		local stats
		stats=$(curl -s "http://127.0.0.1:$port/__stats")
		kill "$pid"
		wait "$pid" 2>/dev/null || true
		rm -f "$tmp/node.port"
		# The stats call itself opened one connection.
		row "node $(node --version)" "$setup" "$keep" "$passed" "$calls" "$attempts" \
			"$(jq -r .requests <<<"$stats")" "$(jq -r .dupIDs <<<"$stats")" "$(jq -r .dupPairs <<<"$stats")" \
			"$(($(jq -r .conns <<<"$stats") - 1))" "$drops"
	}
	node_case "keep-alive (default 5 s)" yes 0 no '{}'
	node_case "keepAliveTimeout 50ms, think 70ms" no 70ms yes '{"keepAliveMs":50}'
	node_case "keepAliveTimeout 1s, think 1.5s" no 1500ms yes '{"keepAliveMs":1000}'
	node_case "Connection: close" no 0 no '{"close":true}'
	node_case "chunked bodies" yes 0 no '{"chunked":true}'
else
	echo "node is not on PATH: Node's http module skipped" >&2
fi

echo
echo "evalrun ${EVALRUN:-$(git describe --always --dirty 2>/dev/null || echo '?')}, $(go version | cut -d' ' -f3); $CONVERSATIONS conversations (new chat + 3 turns), $INFLIGHT in flight; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| server | setup | passed | calls | attempts | requests read | ids twice | (chat, message) twice | connections | verdict |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
