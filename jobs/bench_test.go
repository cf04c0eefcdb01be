package jobs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

const benchRows = 100_000

// writeBenchCSV writes a generated 100,000-row CSV (mixed actions, logins
// and IDs) separated by sep.
func writeBenchCSV(b *testing.B, name string, sep byte) string {
	path := filepath.Join(b.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "user,action,send_email,revoke_sessions,old_password,new_password")
	for i := range benchRows {
		switch i % 4 {
		case 0:
			fmt.Fprintf(w, "00u%017d,expire_password,,,,\n", i)
		case 1:
			fmt.Fprintf(w, "user%d@example.com,reset_password,false,true,,\n", i)
		case 2:
			fmt.Fprintf(w, "User%d@Example.com,change_password,,,0ld-%d,N3w-%d\n", i, i, i)
		case 3:
			fmt.Fprintf(w, "user%d@example.com,clear_sessions,,,,\n", i)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if sep != ',' {
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		for i, c := range raw {
			if c == ',' {
				raw[i] = sep
			}
		}
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return path
}

func benchValidate(b *testing.B, path string) {
	m, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sum, err := m.Validate(Defaults{})
		if err != nil {
			b.Fatal(err)
		}
		if sum.Rows != benchRows {
			b.Fatalf("%d rows", sum.Rows)
		}
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkValidate validates a generated 100,000-row CSV and reports
// rows/s.
func BenchmarkValidate(b *testing.B) {
	benchValidate(b, writeBenchCSV(b, "big.csv", ','))
}

// BenchmarkEach streams the same CSV's jobs, as run does.
func BenchmarkEach(b *testing.B) {
	m, err := Open(writeBenchCSV(b, "big.csv", ','))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := m.Each(Defaults{}, func(*Job) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != benchRows {
			b.Fatalf("%d jobs", n)
		}
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkValidateExcel validates the same rows separated by ';', and as
// UTF-16LE separated by tabs (Excel's Unicode Text).
func BenchmarkValidateExcel(b *testing.B) {
	b.Run("semicolon", func(b *testing.B) {
		benchValidate(b, writeBenchCSV(b, "big.csv", ';'))
	})
	b.Run("utf16-tab", func(b *testing.B) {
		path := writeBenchCSV(b, "big.csv", '\t')
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, toUTF16(string(raw), false), 0o600); err != nil {
			b.Fatal(err)
		}
		benchValidate(b, path)
	})
}
