// Command benchreport turns the output of the bench module's benchmarks
// into docs/benchmarks.md and its charts, docs/benchmarks.svg and one
// docs/scale-<transport>.svg per transport with scale curves. bench/run.sh
// runs it; every figure it writes comes from the benchmark output it reads.
//
// Usage:
//
//	benchreport -in bench.txt -benchstat benchstat.txt -md docs/benchmarks.md -svg docs/benchmarks.svg \
//	    -goversion "$(go version)" -command "..." [-notes notes.md] [-profile title=file ...]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

type profiles []string

func (p *profiles) String() string     { return strings.Join(*p, ",") }
func (p *profiles) Set(s string) error { *p = append(*p, s); return nil }

func main() {
	in := flag.String("in", "", "go test -bench output")
	stat := flag.String("benchstat", "", "benchstat output to append")
	md := flag.String("md", "", "markdown file to write")
	svg := flag.String("svg", "", "SVG chart to write")
	goVersion := flag.String("goversion", runtime.Version(), "output of go version")
	command := flag.String("command", "", "the command that produced -in")
	notes := flag.String("notes", "", "markdown file of prose to include (optional)")
	var profs profiles
	flag.Var(&profs, "profile", "title=file (split at the last =) of a pprof -top listing to append (repeatable)")
	flag.Parse()
	if err := run(*in, *stat, *md, *svg, *goVersion, *command, *notes, profs); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(in, stat, md, svg, goVersion, command, notesFile string, profs profiles) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	results, header, err := parse(f)
	if err != nil {
		return err
	}
	if len(results) == 0 {
		return fmt.Errorf("%s: no benchmark results", in)
	}
	keys := make([]key, 0, len(results))
	for k := range results {
		keys = append(keys, k)
	}
	order(keys)
	cs := checks(results, keys)
	var statText []byte
	if stat != "" {
		if statText, err = os.ReadFile(stat); err != nil {
			return err
		}
	}
	var notes []byte
	if notesFile != "" {
		if notes, err = os.ReadFile(notesFile); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	var appendix []section
	for _, p := range profs {
		i := strings.LastIndex(p, "=")
		title, file := p[:max(i, 0)], p[i+1:]
		if i < 0 {
			return fmt.Errorf("-profile %q: want title=file", p)
		}
		text, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		appendix = append(appendix, section{title, string(text)})
	}
	m := machine{
		GoVersion: goVersion, CPU: header["cpu"], OS: header["goos"] + "/" + header["goarch"],
		NumCPU: runtime.NumCPU(), Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), Command: command,
	}
	doc := markdown(m, results, keys, cs, filepath.Base(svg), string(statText), string(notes), appendix)
	if err := os.WriteFile(md, []byte(doc), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(svg, []byte(chart(results, keys, cs)), 0o644); err != nil {
		return err
	}
	for name, text := range scaleCharts(results, keys) {
		if err := os.WriteFile(filepath.Join(filepath.Dir(svg), name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}
