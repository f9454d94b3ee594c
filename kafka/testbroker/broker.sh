#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft, combined broker + controller) on loopback for tests.
#
#   broker.sh fetch          fetch Kafka's jars into the cache (Maven) unless already there
#   broker.sh start          start a broker on a free 127.0.0.1 port, wait until it is ready,
#                            print its bootstrap address (host:port) on stdout
#   broker.sh stop           stop the broker started by `start` and remove its data
#   broker.sh run CMD...     start, run CMD with RIVERBED_KAFKA_BROKERS set, stop (also on
#                            failure or interrupt); CMD's exit status is returned. If
#                            RIVERBED_KAFKA_BROKERS is already set, CMD just runs against it.
#
# Environment:
#   RIVERBED_KAFKA_CACHE   where the jars go (default: .cache/kafka in the repository)
#   RIVERBED_KAFKA_RUN     where the running broker keeps pid, address, log and data
#                          (default: .cache/kafka-run in the repository for start/stop;
#                          a directory of its own for each `run`, so that `run` never
#                          stops a broker that `start` left for a developer)
#   RIVERBED_KAFKA_START_TIMEOUT  seconds to wait for the broker (default 90)
#   KAFKA_HEAP_OPTS, KAFKA_JVM_OPTS  extra JVM options
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${RIVERBED_KAFKA_CACHE:-$root/.cache/kafka}"
run="${RIVERBED_KAFKA_RUN:-$root/.cache/kafka-run}"
timeout="${RIVERBED_KAFKA_START_TIMEOUT:-90}"

log() { echo "kafka-testbroker: $*" >&2; }

fetch() {
	# The stamp records the pom the jars came from, so a changed pom refetches.
	local stamp="$cache/.pom.sha256" want
	want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
	if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && ls "$cache"/kafka_2.13-*.jar >/dev/null 2>&1; then
		return 0
	fi
	command -v mvn >/dev/null || { log "mvn not found: Maven is needed to fetch Kafka"; return 1; }
	command -v java >/dev/null || { log "java not found: Java 17+ is needed to run Kafka"; return 1; }
	log "fetching Apache Kafka jars into $cache"
	rm -rf "$cache.tmp"
	mkdir -p "$cache.tmp"
	if ! mvn -B -q -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$cache.tmp" </dev/null >&2; then
		log "mvn dependency:copy-dependencies failed"
		rm -rf "$cache.tmp"
		return 1
	fi
	rm -rf "$cache"
	mv "$cache.tmp" "$cache"
	echo "$want" >"$cache/.pom.sha256"
}

# cds_opts NAME prints the JVM options that use the class archive NAME, or
# that record it at exit when there is none yet.
cds_opts() {
	if [[ -f "$cache/$1.jsa" ]]; then
		echo "-XX:SharedArchiveFile=$cache/$1.jsa"
	else
		echo "-XX:ArchiveClassesAtExit=$run/$1.jsa"
	fi
}

# cds_done NAME keeps an archive NAME recorded by a JVM that exited cleanly.
cds_done() {
	if [[ -s "$run/$1.jsa" && ! -f "$cache/$1.jsa" ]]; then
		mv "$run/$1.jsa" "$cache/$1.jsa.$$" && mv "$cache/$1.jsa.$$" "$cache/$1.jsa"
	fi
	rm -f "$run/$1.jsa"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

alive() { [[ -f "$run/pid" ]] && kill -0 "$(cat "$run/pid")" 2>/dev/null; }

# show_log FILE prints the end of a JVM log without class-archive chatter, then
# the lines that name an error, last, so that a truncated CI log still shows them.
show_log() {
	grep -v '\[cds' "$1" | tail -n 40 >&2 || true
	local why
	why="$(grep -E 'Exception|Error|ERROR|FATAL' "$1" | grep -v '\[cds' | head -n 5 || true)"
	[[ -n "$why" ]] && log "error lines from $(basename "$1"):" && echo "$why" >&2
	return 0
}

# attempt N formats the storage and starts the broker once (attempt 1 uses the
# class archive; later attempts run without it, on fresh ports).
attempt() {
	local n=$1 port cport cluster data cp
	rm -rf "$run"
	mkdir -p "$run"
	port="$(free_port)"
	cport="$(free_port)"
	while [[ "$cport" == "$port" ]]; do cport="$(free_port)"; done
	data="$run/data"
	# A cluster id is 16 random bytes in URL-safe base64 without padding.
	cluster="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
	cat >"$run/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=9223372036854775807
# Tests write records with timestamps of 1970 (event times they choose): time-based
# retention, checked every 5 minutes, would delete them while a test reads them.
log.retention.ms=-1
PROPS
	cp="$cache/*"
	local jvm=(-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
		-Xlog:cds=off -Xlog:cds+dynamic=off
		-Dorg.slf4j.simpleLogger.defaultLogLevel=warn
		-Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info)
	# shellcheck disable=SC2206
	jvm+=(${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} ${KAFKA_JVM_OPTS:-})
	# Class data sharing: the first run of each tool records the classes it
	# loads into an archive in the cache (written when the JVM exits, under a
	# temporary name, renamed only after a clean exit); later runs map it,
	# which takes seconds off the start. A missing or unusable archive only
	# costs that time (-Xshare:auto); retries run without any archive.
	local fmt_cds=() broker_cds=()
	if ((n == 1)); then
		jvm+=(-Xshare:auto)
		read -r -a fmt_cds <<<"$(cds_opts format)"
		read -r -a broker_cds <<<"$(cds_opts broker)"
	fi
	if ! java "${jvm[@]}" "${fmt_cds[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$cluster" \
		-c "$run/server.properties" </dev/null >"$run/format.log" 2>&1; then
		log "attempt $n: formatting the storage failed; its log:"
		show_log "$run/format.log"
		return 1
	fi
	((n == 1)) && cds_done format
	# setsid: the broker gets its own process group, so an interrupt of the caller's
	# group does not kill it before `stop` runs, and stop can end the whole group.
	setsid java "${jvm[@]}" "${broker_cds[@]}" -cp "$cp" kafka.Kafka "$run/server.properties" \
		</dev/null >"$run/broker.log" 2>&1 &
	echo $! >"$run/pid"
	echo "127.0.0.1:$port" >"$run/brokers"
	local deadline=$((SECONDS + timeout))
	until grep -q 'Kafka Server started' "$run/broker.log" 2>/dev/null &&
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		if ! alive; then
			log "attempt $n: the broker exited during startup; its log:"
			show_log "$run/broker.log"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			log "attempt $n: the broker did not start within ${timeout}s; its log:"
			show_log "$run/broker.log"
			stop
			return 1
		fi
		sleep 0.2
	done
}

start() {
	if alive; then
		log "already running (pid $(cat "$run/pid"))"
		cat "$run/brokers"
		return 0
	fi
	fetch
	local t0=$SECONDS n
	for n in 1 2 3; do
		if attempt "$n"; then
			log "up at $(cat "$run/brokers") after $((SECONDS - t0))s (pid $(cat "$run/pid"), log $run/broker.log)"
			cat "$run/brokers"
			return 0
		fi
		# A failed first attempt may have been the class archive: drop it.
		rm -f "$cache/format.jsa" "$cache/broker.jsa"
	done
	log "could not start a Kafka broker after 3 attempts (java: $(java -version 2>&1 | head -n 1))"
	return 1
}

stop() {
	if [[ -f "$run/pid" ]]; then
		local pid
		pid="$(cat "$run/pid")"
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			# A clean shutdown (and recording the class archive, the first
			# time) takes a few seconds; after 60 s it is killed.
			for _ in $(seq 300); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.2
			done
			if kill -0 "$pid" 2>/dev/null; then
				log "broker $pid did not stop within 60 s of SIGTERM; killing it"
				kill -KILL "$pid" 2>/dev/null || true
				rm -f "$run/broker.jsa"
			fi
		fi
		cds_done broker
	fi
	rm -rf "$run"
}

cmd="${1:-}"
case "$cmd" in
fetch) fetch ;;
start) start ;;
stop) stop ;;
run)
	shift
	[[ $# -gt 0 ]] || { log "usage: broker.sh run CMD..."; exit 2; }
	if [[ -n "${RIVERBED_KAFKA_BROKERS:-}" ]]; then
		exec "$@"
	fi
	run="${RIVERBED_KAFKA_RUN:-$root/.cache/kafka-run.$$}"
	trap stop EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	RIVERBED_KAFKA_BROKERS="$(start)"
	export RIVERBED_KAFKA_BROKERS
	status=0
	"$@" || status=$?
	exit "$status"
	;;
*)
	echo "usage: broker.sh fetch|start|stop|run CMD..." >&2
	exit 2
	;;
esac
