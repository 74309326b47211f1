#!/usr/bin/env bash
# run.sh runs the bench module's benchmarks, feeds benchstat, and writes
# docs/benchmarks.md and docs/benchmarks.svg from the results.
#
# Usage: bench/run.sh              (from anywhere; needs only Go and the Go module proxy)
# Environment:
#   COUNT=6           runs of each benchmark (benchstat wants at least 6)
#   BENCHTIME=1s      -benchtime of the Call, SlowCall and Send benchmarks
#   CONSUME=100000    records consumed per run of the Kafka Consume benchmark
#   OUT=dir           keep the raw output, profiles and test binary there
#   PROFILE=1         also profile micro's side of the raw comparisons (set 0 to skip)
#   PROFILETIME=3s    -benchtime of each profiled benchmark (Consume: CONSUME records)
set -euo pipefail
cd "$(dirname "$0")"
COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
CONSUME=${CONSUME:-100000}
PROFILE=${PROFILE:-1}
PROFILETIME=${PROFILETIME:-3s}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
docs=../docs
mkdir -p "$docs"

echo "run.sh: results in $OUT" >&2
go build -o "$OUT/benchreport" ./cmd/benchreport
go tool benchstat -h >/dev/null 2>&1 || true # fetch and build benchstat before the run
go test -c -o "$OUT/bench.test" .

bench() { # bench <regexp> <benchtime> [more test flags]
	local re=$1 bt=$2
	shift 2
	"$OUT/bench.test" -test.run '^$' -test.bench "$re" -test.benchmem \
		-test.count "$COUNT" -test.benchtime "$bt" "$@"
}

: >"$OUT/bench.txt"
bench '^Benchmark(Call|SlowCall|Send)' "$BENCHTIME" | tee -a "$OUT/bench.txt"
bench '^BenchmarkConsume' "${CONSUME}x" | tee -a "$OUT/bench.txt"

# One benchstat per benchmark, so that each compares only the implementations it ran.
for name in CallInproc CallGRPC CallNATS SlowCallNATS SendInproc SendNATS SendKafka ConsumeKafka; do
	echo "### $name"
	go tool benchstat -filter ".name:$name" -col /impl "$OUT/bench.txt" | sed '/^goos:/d; /^goarch:/d; /^pkg:/d; /^cpu:/d'
	echo
done >"$OUT/benchstat.txt"

profiles=()
if [ "$PROFILE" != 0 ]; then
	# Where micro's time goes, on its side of each comparison with a raw client library.
	for p in \
		'CallGRPC/transport=grpc/impl=micro/size=64B/mode=par' \
		'CallNATS/transport=nats/impl=micro/size=64B/mode=par' \
		'SendNATS/transport=nats/impl=micro/size=64B/mode=par' \
		'SendKafka/transport=kafka/impl=micro/size=64B/mode=par' \
		'ConsumeKafka/transport=kafka/impl=micro/size=64B/mode=seq' \
		'SendInproc/transport=inproc/impl=micro/size=64B/mode=par'; do
		name=$(echo "$p" | tr '/=' '__')
		bt=$PROFILETIME
		case $p in Consume*) bt=${CONSUME}x ;; esac
		COUNT=1 bench "^Benchmark${p%%/*}\$/^${p#*/}\$" "$bt" -test.cpuprofile "$OUT/$name.cpu" >/dev/null
		{
			echo "# Flat: the functions the CPU was in (the benchmark's setup left out)."
			go tool pprof -top -nodecount=25 -ignore='bench\.(produce|kafkaCluster|startServer)' \
				"$OUT/bench.test" "$OUT/$name.cpu" 2>/dev/null | sed '1,/^Showing nodes/d'
			echo
			echo "# Cumulative, micro's frames only: time in libraries and the runtime is charged"
			echo "# to the micro function that called them."
			go tool pprof -top -cum -nodecount=20 -show='dancinggopher/micro/transport|dancinggopher/micro\.' \
				"$OUT/bench.test" "$OUT/$name.cpu" 2>/dev/null | sed '1,/^Showing nodes/d'
		} >"$OUT/$name.top"
		profiles+=(-profile "CPU profile: Benchmark$p=$OUT/$name.top")
	done
fi

"$OUT/benchreport" -in "$OUT/bench.txt" -benchstat "$OUT/benchstat.txt" \
	-md "$docs/benchmarks.md" -svg "$docs/benchmarks.svg" -goversion "$(go version)" \
	-command "COUNT=$COUNT BENCHTIME=$BENCHTIME CONSUME=$CONSUME bench/run.sh" -notes notes.md "${profiles[@]}"
echo "run.sh: wrote docs/benchmarks.md and docs/benchmarks.svg" >&2
