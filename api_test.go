package micro_test

import (
	"bytes"
	"flag"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updateAPI = flag.Bool("update-api", false, "rewrite testdata/api.txt from the code")

// TestAPI keeps the exported API of every package of the module in
// testdata/api.txt, so that an API change shows in review: it fails with
// the difference when the code and the file disagree. Run
// go test -run TestAPI -update-api . after a deliberate change.
func TestAPI(t *testing.T) {
	got := exportedAPI(t)
	want, err := os.ReadFile("testdata/api.txt")
	if *updateAPI {
		if err := os.WriteFile("testdata/api.txt", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%v (run go test -run TestAPI -update-api .)", err)
	}
	if got != string(want) {
		t.Fatalf("the exported API changed; if that is deliberate, run go test -run TestAPI -update-api . and review the diff:\n%s", lineDiff(string(want), got))
	}
}

// exportedAPI lists the exported declarations of every importable package
// of the module, one per line, under a header line per package.
func exportedAPI(t *testing.T) string {
	var dirs []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "internal" || name == "bench" ||
			name == "examples" || name == "cmd" || name == "scorecard") {
			return filepath.SkipDir
		}
		dirs = append(dirs, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	fset := token.NewFileSet()
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		pkgs := map[string][]*ast.File{}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			pkgs[f.Name.Name] = append(pkgs[f.Name.Name], f)
		}
		for name, files := range pkgs {
			if name == "main" {
				continue
			}
			var lines []string
			for _, f := range files {
				if strings.HasSuffix(fset.File(f.Pos()).Name(), ".pb.go") {
					continue // generated: its API is the proto's
				}
				for _, d := range f.Decls {
					lines = append(lines, declLines(fset, d)...)
				}
			}
			slices.Sort(lines)
			out.WriteString("pkg " + filepath.ToSlash(filepath.Join("github.com/dancinggopher/micro", dir)) + "\n")
			for _, l := range slices.Compact(lines) {
				out.WriteString("\t" + l + "\n")
			}
		}
	}
	return out.String()
}

func declLines(fset *token.FileSet, d ast.Decl) []string {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if !d.Name.IsExported() || d.Recv != nil && !exportedRecv(d.Recv) {
			return nil
		}
		d.Body, d.Doc = nil, nil
		return []string{node(fset, d)}
	case *ast.GenDecl:
		var lines []string
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				if !s.Name.IsExported() {
					continue
				}
				s.Doc, s.Comment = nil, nil
				stripUnexported(s.Type)
				lines = append(lines, "type "+node(fset, s))
			case *ast.ValueSpec:
				for i, n := range s.Names {
					if !n.IsExported() {
						continue
					}
					l := d.Tok.String() + " " + n.Name
					if s.Type != nil {
						l += " " + node(fset, s.Type)
					}
					if i < len(s.Values) {
						l += " = " + node(fset, s.Values[i])
					}
					lines = append(lines, l)
				}
			}
		}
		return lines
	}
	return nil
}

func exportedRecv(fl *ast.FieldList) bool {
	t := fl.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if g, ok := t.(*ast.IndexExpr); ok {
		t = g.X
	}
	if g, ok := t.(*ast.IndexListExpr); ok {
		t = g.X
	}
	id, ok := t.(*ast.Ident)
	return ok && id.IsExported()
}

// stripUnexported drops the unexported fields of structs and methods of
// interfaces, and all comments, so that only the API remains.
func stripUnexported(e ast.Expr) {
	var fields *ast.FieldList
	marker := &ast.Field{Names: []*ast.Ident{ast.NewIdent("_")}, Type: ast.NewIdent("unexportedFields")}
	switch e := e.(type) {
	case *ast.StructType:
		fields = e.Fields
	case *ast.InterfaceType:
		fields = e.Methods
		marker = &ast.Field{Type: ast.NewIdent("unexportedMethods")}
	default:
		return
	}
	var kept []*ast.Field
	hidden := false
	for _, f := range fields.List {
		f.Doc, f.Comment = nil, nil
		if len(f.Names) == 0 { // embedded
			kept = append(kept, f)
			continue
		}
		var names []*ast.Ident
		for _, n := range f.Names {
			if n.IsExported() {
				names = append(names, n)
			} else {
				hidden = true
			}
		}
		if len(names) > 0 {
			f.Names = names
			kept = append(kept, f)
		}
	}
	if hidden {
		kept = append(kept, marker)
	}
	fields.List = kept
}

func node(fset *token.FileSet, n any) string {
	var b bytes.Buffer
	if err := (&printer.Config{Mode: printer.RawFormat}).Fprint(&b, fset, n); err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
