package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

const (
	chartWidth = 960
	labelWidth = 300
	plotWidth  = chartWidth - labelWidth - 90
	barHeight  = 14
	barGap     = 5
)

type bar struct {
	Label  string
	Value  float64
	Target float64 // 0: none
	Good   bool
	Color  string
}

var implColor = map[string]string{"micro": "#2b6cb0", "gokit": "#805ad5", "natsmicro": "#38a169", "watermill": "#dd6b20", "rawhdr": "#718096", "window": "#63b3ed"}

// mainKey reports whether k is a row of the main comparison (not a scale
// curve's point, a paired or a memory benchmark).
func mainKey(k key) bool {
	return k.Axis == "" && (k.Kind == "Call" || k.Kind == "Send" || k.Kind == "Consume" || k.Kind == "SlowCall")
}

// chart draws two panels: each implementation's time per message relative
// to the raw client library, and micro's throughput relative to the peer
// frameworks with the targets marked.
func chart(results map[key]*result, keys []key, cs []check) string {
	var rel []bar
	for _, k := range keys {
		base := results[k.baseline()]
		if !mainKey(k) || k.Impl == "raw" || base == nil {
			continue
		}
		rel = append(rel, bar{
			Label: fmt.Sprintf("%s %s %s %s %s", k.Kind, k.Transport, k.Impl, k.Size, k.Mode),
			Value: results[k].Median["ns/op"] / base.Median["ns/op"], Color: implColor[k.Impl],
		})
	}
	var peer []bar
	for _, c := range cs {
		if c.Target.Issue != 0 || c.Target.Min < 1 {
			continue
		}
		peer = append(peer, bar{
			Label: fmt.Sprintf("%s %s vs %s %s %s", c.Target.Kind, c.Target.Transport, c.Target.Against, c.Size, c.Mode),
			Value: c.Value, Target: c.Target.Min, Good: c.Met, Color: implColor["micro"],
		})
	}
	var b strings.Builder
	y := 10
	body := &strings.Builder{}
	y = linearPanel(body, y, "Time per message ÷ raw client library (lower is better; 1 = raw)", rel)
	y = logPanel(body, y+20, "micro's throughput ÷ the peer framework's (higher is better, log scale; | = target, red = missed)", peer)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		chartWidth, y+10, chartWidth, y+10)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	b.WriteString(body.String())
	b.WriteString("</svg>\n")
	return b.String()
}

func title(b *strings.Builder, y int, text string) int {
	fmt.Fprintf(b, `<text x="10" y="%d" font-size="13" font-weight="bold">%s</text>`+"\n", y+14, html.EscapeString(text))
	return y + 24
}

// legend names the colours of the implementations.
func legend(b *strings.Builder, y int) int {
	x := labelWidth
	for _, impl := range []string{"micro", "rawhdr", "window", "gokit", "natsmicro", "watermill"} {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			x, y, implColor[impl], x+14, y+9, impl)
		x += 100
	}
	return y + 18
}

func label(b *strings.Builder, y int, text string) {
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelWidth-6, y+barHeight-3, html.EscapeString(text))
}

// linearMax is the right end of the linear panel; longer bars are cut
// there and marked.
const linearMax = 4.0

// linearPanel draws bars on a linear scale from 0, with a line at 1.
func linearPanel(b *strings.Builder, y int, heading string, bars []bar) int {
	y = title(b, y, heading)
	y = legend(b, y)
	hi := 1.5
	for _, br := range bars {
		hi = max(hi, min(br.Value*1.05, linearMax))
	}
	hi = math.Ceil(hi*2) / 2
	x := func(v float64) float64 { return labelWidth + min(v, hi)/hi*plotWidth }
	top := y
	for _, br := range bars {
		label(b, y, br.Label)
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", labelWidth, y, x(br.Value)-labelWidth, barHeight, br.Color)
		if br.Value > hi { // cut: a white notch near the end
			fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="4" height="%d" fill="white"/>`+"\n", x(hi)-14, y, barHeight)
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%d">%.2f×</text>`+"\n", x(br.Value)+4, y+barHeight-3, br.Value)
		y += barHeight + barGap
	}
	axis(b, top, y, x(1))
	for t := 0.0; t <= hi+1e-9; t += tickStep(hi) {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%g</text>`+"\n", x(t), y+12, t)
	}
	return y + 16
}

// logPanel draws bars on a log scale, each with its target.
func logPanel(b *strings.Builder, y int, heading string, bars []bar) int {
	y = title(b, y, heading)
	lo, hi := 1.0, 10.0
	for _, br := range bars {
		lo = min(lo, br.Value)
		hi = max(hi, br.Value, br.Target)
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi*1.3)))
	x := func(v float64) float64 {
		return labelWidth + (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*plotWidth
	}
	top := y
	for _, br := range bars {
		label(b, y, br.Label)
		color := br.Color
		if !br.Good {
			color = "#c53030" // missed
		}
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", labelWidth, y, max(x(br.Value)-labelWidth, 1), barHeight, color)
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="black" stroke-width="2"/>`+"\n", x(br.Target), x(br.Target), y-2, y+barHeight+2)
		fmt.Fprintf(b, `<text x="%.1f" y="%d">%.1f× (target %g×)</text>`+"\n", max(x(br.Value), x(br.Target))+5, y+barHeight-3, br.Value, br.Target)
		y += barHeight + barGap
	}
	axis(b, top, y, x(1))
	for t := lo; t <= hi*1.0001; t *= 10 {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%g</text>`+"\n", x(t), y+12, t)
	}
	return y + 16
}

// axis draws the baseline at xv and the panel's left edge.
func axis(b *strings.Builder, top, bottom int, xv float64) {
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>`+"\n", labelWidth, labelWidth, top-2, bottom)
	fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#333" stroke-dasharray="4 3"/>`+"\n", xv, xv, top-2, bottom)
}

func tickStep(hi float64) float64 {
	switch {
	case hi <= 2:
		return 0.25
	}
	return 0.5
}
