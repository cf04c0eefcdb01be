package jobs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkValidate validates a generated 100,000-row CSV (mixed actions,
// logins and IDs) and reports rows/s.
func BenchmarkValidate(b *testing.B) {
	const rows = 100_000
	path := filepath.Join(b.TempDir(), "big.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "user,action,send_email,revoke_sessions,old_password,new_password")
	for i := range rows {
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
		if sum.Rows != rows {
			b.Fatalf("%d rows", sum.Rows)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
