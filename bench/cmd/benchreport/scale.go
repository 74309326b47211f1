package main

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// The scale curves: every Scale... benchmark is a line of points
// (parameter on the x axis, figure on the y axis), drawn one SVG per
// transport, scale-<transport>.svg.

// point is one measured point of a curve.
type point struct{ X, Y float64 }

// series is one line of a panel.
type series struct {
	Name   string
	Color  string
	Dash   bool
	Points []point
}

// panel is one plot: its series against a shared x axis.
type panel struct {
	Title, XLabel, YLabel string
	LogY                  bool
	Series                []series
}

var palette = []string{"#2b6cb0", "#4a5568", "#38a169", "#dd6b20", "#805ad5", "#c53030"}

// curveName names a curve by what tells it from the others of its transport.
func curveName(k key, kinds int) string {
	name := k.Impl
	if kinds > 1 {
		name = strings.TrimPrefix(k.Kind, "Scale") + " " + name
	}
	if k.Mode != "" {
		name += " " + k.Mode
	}
	return name
}

// scaleCurves returns, per transport, the curves of its scale benchmarks
// (k.curve() keys, ordered), and the transports in order.
func scaleCurves(keys []key) (map[string][]key, []string) {
	curves := map[string][]key{}
	var transports []string
	for _, k := range keys {
		if !strings.HasPrefix(k.Kind, "Scale") || k.Axis == "" {
			continue
		}
		c := k.curve()
		if !slices.Contains(curves[k.Transport], c) {
			if curves[k.Transport] == nil {
				transports = append(transports, k.Transport)
			}
			curves[k.Transport] = append(curves[k.Transport], c)
		}
	}
	return curves, transports
}

// points returns the points of curve c's figure unit, by x.
func points(results map[key]*result, keys []key, c key, unit string) []point {
	var ps []point
	for _, k := range keys {
		if k.curve() != c {
			continue
		}
		if v, ok := results[k].Median[unit]; ok {
			ps = append(ps, point{float64(k.X), v})
		}
	}
	slices.SortFunc(ps, func(a, b point) int { return int(a.X - b.X) })
	return ps
}

// scaleCharts returns the SVG of each transport's scale curves by file name.
func scaleCharts(results map[key]*result, keys []key) map[string]string {
	curves, transports := scaleCurves(keys)
	out := map[string]string{}
	for _, t := range transports {
		cs := curves[t]
		kinds := map[string]bool{}
		for _, c := range cs {
			kinds[c.Kind] = true
		}
		rate := panel{Title: t + ": throughput", XLabel: cs[0].Axis, YLabel: "msgs/s"}
		lat := panel{Title: t + ": latency of a call, p50 (solid) and p99 (dashed)", XLabel: cs[0].Axis, YLabel: "µs", LogY: true}
		for i, c := range cs {
			color := palette[i%len(palette)]
			name := curveName(c, len(kinds))
			rate.Series = append(rate.Series, series{Name: name, Color: color, Points: points(results, keys, c, "msgs/s")})
			for _, q := range []string{"p50", "p99"} {
				ps := points(results, keys, c, q+"-ns")
				for j := range ps {
					ps[j].Y /= 1e3
				}
				if len(ps) > 0 {
					lat.Series = append(lat.Series, series{Name: name + " " + q, Color: color, Dash: q == "p99", Points: ps})
				}
			}
		}
		ps := []panel{rate}
		if len(lat.Series) > 0 {
			ps = append(ps, lat)
		}
		out["scale-"+t+".svg"] = lineSVG(ps)
	}
	return out
}

const (
	lineWidth  = 720
	lineLeft   = 70
	lineRight  = 190 // the legend
	lineHeight = 220
)

// lineSVG draws panels one above the other, the x axis in log 2 scale.
func lineSVG(panels []panel) string {
	var body strings.Builder
	y := 10
	for _, p := range panels {
		y = drawPanel(&body, y, p) + 20
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		lineWidth, y, lineWidth, y)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	b.WriteString(body.String())
	b.WriteString("</svg>\n")
	return b.String()
}

func drawPanel(b *strings.Builder, y int, p panel) int {
	y = title(b, y, p.Title)
	var xs []float64
	lo, hi := math.Inf(1), 0.0
	for _, s := range p.Series {
		for _, pt := range s.Points {
			if !slices.Contains(xs, pt.X) {
				xs = append(xs, pt.X)
			}
			if pt.Y > 0 {
				lo, hi = min(lo, pt.Y), max(hi, pt.Y)
			}
		}
	}
	if len(xs) == 0 || hi == 0 {
		return y
	}
	slices.Sort(xs)
	w := float64(lineWidth - lineLeft - lineRight)
	top, h := float64(y), float64(lineHeight)
	x := func(v float64) float64 {
		if len(xs) == 1 || xs[0] == xs[len(xs)-1] {
			return lineLeft + w/2
		}
		return lineLeft + (math.Log2(v)-math.Log2(xs[0]))/(math.Log2(xs[len(xs)-1])-math.Log2(xs[0]))*w
	}
	var yv func(float64) float64
	var ticks []float64
	if p.LogY {
		lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
		if lo == hi {
			hi *= 10
		}
		yv = func(v float64) float64 {
			return top + h - (math.Log10(max(v, lo))-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*h
		}
		for t := lo; t <= hi*1.0001; t *= 10 {
			ticks = append(ticks, t)
		}
	} else {
		step := math.Pow(10, math.Floor(math.Log10(hi)))
		for hi/step < 4 {
			step /= 2
		}
		hi = math.Ceil(hi*1.05/step) * step
		yv = func(v float64) float64 { return top + h - v/hi*h }
		for t := 0.0; t <= hi*1.0001; t += step {
			ticks = append(ticks, t)
		}
	}
	for _, t := range ticks {
		fmt.Fprintf(b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#e2e8f0"/>`+"\n", lineLeft, lineLeft+w, yv(t), yv(t))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", lineLeft-4, yv(t)+4, short(t))
	}
	for _, v := range xs {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%g</text>`+"\n", x(v), top+h+14, v)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", lineLeft+w/2, top+h+28, html.EscapeString(p.XLabel))
	fmt.Fprintf(b, `<text x="12" y="%.1f" transform="rotate(-90 12 %.1f)" text-anchor="middle">%s</text>`+"\n", top+h/2, top+h/2, html.EscapeString(p.YLabel))
	fmt.Fprintf(b, `<rect x="%d" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", lineLeft, top, w, h)
	for i, s := range p.Series {
		dash := ""
		if s.Dash {
			dash = ` stroke-dasharray="5 3"`
		}
		var pts []string
		for _, pt := range s.Points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(pt.X), yv(pt.Y)))
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(pt.X), yv(pt.Y), s.Color)
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), s.Color, dash)
		ly := top + 8 + float64(i)*16
		lx := lineLeft + w + 12
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", lx, lx+20, ly, ly, s.Color, dash)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", lx+24, ly+4, html.EscapeString(s.Name))
	}
	return int(top+h) + 32
}

// short formats an axis tick: 1.5 M, 20 k, 300, 0.5.
func short(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%g M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%g k", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}
