#!/usr/bin/env bash
# run.sh runs the bench module's benchmarks, feeds benchstat, profiles
# micro's and the raw client's side of each issue-16 row, and writes
# docs/benchmarks.md, docs/benchmarks.svg and docs/scale-<transport>.svg
# from the results.
#
# Usage: bench/run.sh              (from anywhere; needs only Go and the Go module proxy)
# Environment (defaults: about 25 minutes on 2 cores):
#   COUNT=6           runs of each comparison benchmark (benchstat wants at least 6)
#   BENCHTIME=1s      -benchtime of the Call, SlowCall, Send and PairedCall benchmarks
#   CONSUME=100000    records consumed per run of the Kafka Consume benchmark
#   JSCONSUME=20000   messages consumed per run of the JetStream Consume benchmark
#   SCALECOUNT=6      runs of each point of the scale curves
#   SCALETIME=500ms   -benchtime of each point of the Call and Send scale curves
#   SCALECONSUME=50000 records consumed per run of each point of the Kafka scale curve
#   MEMCOUNT=3        waves of 10k concurrent Calls per transport (BENCH_INFLIGHT changes 10k)
#   PROFILE=1         profile each issue-16 row, micro's side and raw's (set 0 to skip)
#   PROFILETIME=2s    -benchtime of each profiled benchmark but Consume's
#   PROFILECONSUME=2000000 records consumed by each profiled Consume benchmark of 64 B (4 KiB: a tenth)
#   ONLY=regexp       run only the benchmark groups whose -bench regexp matches (grep -E)
#   OUT=dir           keep the raw output, profiles and test binary there
#   DOCS=dir          write the page and charts there (default ../docs)
set -euo pipefail
cd "$(dirname "$0")"
COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
CONSUME=${CONSUME:-100000}
JSCONSUME=${JSCONSUME:-20000}
SCALECOUNT=${SCALECOUNT:-6}
SCALETIME=${SCALETIME:-500ms}
SCALECONSUME=${SCALECONSUME:-50000}
MEMCOUNT=${MEMCOUNT:-3}
PROFILE=${PROFILE:-1}
PROFILETIME=${PROFILETIME:-2s}
PROFILECONSUME=${PROFILECONSUME:-2000000}
ONLY=${ONLY:-}
OUT=${OUT:-$(mktemp -d)}
docs=${DOCS:-../docs}
mkdir -p "$OUT" "$docs"
start=$SECONDS
stamp() { echo "run.sh: $(date -u +%H:%M:%S) (+$((SECONDS - start))s) $*" >&2; }

stamp "results in $OUT"
go build -o "$OUT/benchreport" ./cmd/benchreport
go tool benchstat -h >/dev/null 2>&1 || true # fetch and build benchstat before the run
go test -c -o "$OUT/bench.test" .

bench() { # bench <regexp> <benchtime> <count> [more test flags]
	local re=$1 bt=$2 count=$3
	shift 3
	"$OUT/bench.test" -test.run '^$' -test.bench "$re" -test.benchmem \
		-test.count "$count" -test.benchtime "$bt" "$@"
}

# The benchmark groups: -bench regexp ; benchtime ; count.
groups=(
	"^Benchmark(Call|SlowCall|Send)(Inproc|GRPC|NATS|Kafka)\$;$BENCHTIME;$COUNT"
	"^BenchmarkPairedCallGRPC\$;$BENCHTIME;$COUNT"
	"^BenchmarkConsumeKafka\$;${CONSUME}x;$COUNT"
	# --- JetStream: the comparisons of bench/jetstream_test.go.
	"^BenchmarkConsumeJetStream\$;${JSCONSUME}x;$COUNT"
	# --- end of JetStream
	"^BenchmarkScale(Call|Send);$SCALETIME;$SCALECOUNT"
	"^BenchmarkScaleConsumeKafka\$;${SCALECONSUME}x;$SCALECOUNT"
	"^BenchmarkMemoryCall\$;1x;$MEMCOUNT"
)

: >"$OUT/bench.txt"
for g in "${groups[@]}"; do
	IFS=';' read -r re bt count <<<"$g"
	if [ -n "$ONLY" ] && ! grep -qE -- "$ONLY" <<<"$re"; then
		continue
	fi
	stamp "bench $re (benchtime $bt, count $count)"
	bench "$re" "$bt" "$count" | tee -a "$OUT/bench.txt"
done
stamp "benchmarks done"

# One benchstat per benchmark, so that each compares only the implementations it ran.
for name in $(grep -o '^Benchmark[A-Za-z]*' "$OUT/bench.txt" | sort -u | sed 's/^Benchmark//'); do
	echo "### $name"
	go tool benchstat -filter ".name:$name" -col /impl "$OUT/bench.txt" | sed '/^goos:/d; /^goarch:/d; /^pkg:/d; /^cpu:/d'
	echo
done >"$OUT/benchstat.txt"

profiles=()
if [ "$PROFILE" != 0 ]; then
	# Each issue-16 row, micro's side and the raw client's: CPU and allocation
	# profiles in $OUT/prof, their pprof -top in $OUT/prof/*.top, and the first
	# lines of each in $OUT/profiles.md (also appended to docs/benchmarks.md).
	mkdir -p "$OUT/prof"
	: >"$OUT/profiles.md"
	for p in \
		'SendNATS/transport=nats/impl=micro/size=64B/mode=par' \
		'SendNATS/transport=nats/impl=raw/size=64B/mode=par' \
		'CallNATS/transport=nats/impl=micro/size=64B/mode=par' \
		'CallNATS/transport=nats/impl=raw/size=64B/mode=par' \
		'CallNATS/transport=nats/impl=rawhdr/size=64B/mode=par' \
		'ConsumeKafka/transport=kafka/impl=micro/size=64B/mode=seq' \
		'ConsumeKafka/transport=kafka/impl=raw/size=64B/mode=seq' \
		'ConsumeKafka/transport=kafka/impl=micro/size=4KiB/mode=seq' \
		'ConsumeKafka/transport=kafka/impl=raw/size=4KiB/mode=seq' \
		'CallInproc/transport=inproc/impl=micro/size=64B/mode=par' \
		'CallGRPC/transport=grpc/impl=micro/size=64B/mode=par' \
		'CallGRPC/transport=grpc/impl=raw/size=64B/mode=par'; do
		if [ -n "$ONLY" ] && ! grep -qE -- "$ONLY" <<<"Benchmark$p"; then
			continue
		fi
		name=$(echo "$p" | tr '/=' '__')
		bt=$PROFILETIME
		case $p in # about a second of samples each
		Consume*64B*) bt=${PROFILECONSUME}x ;;
		Consume*) bt=$((PROFILECONSUME / 10))x ;;
		esac
		stamp "profile $p"
		bench "^Benchmark${p%%/*}\$/^${p#*/}\$" "$bt" 1 \
			-test.cpuprofile "$OUT/prof/$name.cpu" -test.memprofile "$OUT/prof/$name.mem" >"$OUT/prof/$name.txt"
		top() { go tool pprof -top "$@" "$OUT/bench.test" 2>/dev/null | sed '1,/^Showing nodes/d'; }
		ignore='bench\.(produce|kafkaCluster|startServer|awaitGroup)'
		{
			echo "# Flat CPU: the functions the CPU was in (the benchmark's setup left out)."
			top -nodecount=25 -ignore="$ignore" "$OUT/prof/$name.cpu"
			echo
			echo "# Cumulative CPU, micro's frames only: time in libraries and the runtime is charged"
			echo "# to the micro function that called them."
			top -cum -nodecount=20 -show='dancinggopher/micro/transport|dancinggopher/micro\.' "$OUT/prof/$name.cpu"
			echo
			echo "# Allocated bytes (alloc_space), flat."
			top -sample_index=alloc_space -nodecount=20 "$OUT/prof/$name.mem"
			echo
			echo "# Allocated objects (alloc_objects), flat."
			top -sample_index=alloc_objects -nodecount=15 "$OUT/prof/$name.mem"
		} >"$OUT/prof/$name.top"
		{
			echo "=== Benchmark$p"
			grep '^Benchmark' "$OUT/prof/$name.txt" || true
			echo "CPU, flat (top 12)"
			top -nodecount=12 -ignore="$ignore" "$OUT/prof/$name.cpu" | head -13
			echo "alloc_space, flat (top 8)"
			top -sample_index=alloc_space -nodecount=8 "$OUT/prof/$name.mem" | head -9
			echo
		} >>"$OUT/profiles.md"
	done
	profiles+=(-profile "Profiles of the issue-16 rows (micro's side and raw's; full listings in OUT/prof)=$OUT/profiles.md")
fi

stamp "report"
"$OUT/benchreport" -in "$OUT/bench.txt" -benchstat "$OUT/benchstat.txt" \
	-md "$docs/benchmarks.md" -svg "$docs/benchmarks.svg" -goversion "$(go version)" \
	-command "COUNT=$COUNT BENCHTIME=$BENCHTIME CONSUME=$CONSUME JSCONSUME=$JSCONSUME SCALECOUNT=$SCALECOUNT SCALETIME=$SCALETIME SCALECONSUME=$SCALECONSUME MEMCOUNT=$MEMCOUNT bench/run.sh" \
	-notes notes.md "${profiles[@]}"
stamp "wrote $docs/benchmarks.md, $docs/benchmarks.svg and $docs/scale-*.svg; profiles in $OUT/prof, summary $OUT/profiles.md"
