package report_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/report"
)

type failWriter struct {
	n     int // bytes accepted per call before failing
	calls int
	got   bytes.Buffer
}

var errDisk = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	w.calls++
	n := min(w.n, len(p))
	w.got.Write(p[:n])
	if n < len(p) {
		return n, errDisk
	}
	return n, nil
}

func TestWriterBuffersUntilFlush(t *testing.T) {
	var buf bytes.Buffer
	w := report.NewWriter(&buf, report.JSONL)
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	rows := trickyRows()
	if err := w.Write(&rows[0]); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %d bytes before Flush", buf.Len())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := report.AppendRow(nil, &rows[0], report.JSONL); !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("got %q, want %q", buf.Bytes(), want)
	}
}

func TestWriterFlushesWhenFull(t *testing.T) {
	var buf bytes.Buffer
	w := report.NewWriter(&buf, report.CSV)
	row := trickyRows()[1]
	var want []byte
	for i := 0; buf.Len() == 0; i++ {
		if i > 10000 {
			t.Fatal("the Writer never flushed by itself")
		}
		row.Line = i
		want = report.AppendRow(want, &row, report.CSV)
		if err := w.Write(&row); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatal("rows lost or reordered across the automatic flush")
	}
}

func TestWriterErrorIsSticky(t *testing.T) {
	fw := &failWriter{n: 10}
	w := report.NewWriter(fw, report.CSV)
	rows := trickyRows()
	if err := w.Write(&rows[0]); err != nil {
		t.Fatal(err)
	}
	err := w.Flush()
	if !errors.Is(err, errDisk) {
		t.Fatalf("Flush: %v, want errDisk", err)
	}
	if strings.Contains(err.Error(), rows[0].TempPassword.Reveal()) {
		t.Errorf("error holds the secret: %v", err)
	}
	calls := fw.calls
	if err := w.Write(&rows[1]); !errors.Is(err, errDisk) {
		t.Errorf("Write after failure: %v", err)
	}
	if err := w.WriteHeader(); !errors.Is(err, errDisk) {
		t.Errorf("WriteHeader after failure: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, errDisk) {
		t.Errorf("Flush after failure: %v", err)
	}
	if fw.calls != calls {
		t.Errorf("wrote again after a failure")
	}
	if fw.got.Len() != 10 {
		t.Errorf("underlying writer got %d bytes, want 10", fw.got.Len())
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

func TestWriterShortWrite(t *testing.T) {
	w := report.NewWriter(shortWriter{}, report.JSONL)
	row := trickyRows()[2]
	if err := w.Write(&row); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("Flush: %v, want io.ErrShortWrite", err)
	}
}

func TestWriterInvalidFormat(t *testing.T) {
	var buf bytes.Buffer
	w := report.NewWriter(&buf, 0)
	row := trickyRows()[2]
	if err := w.Write(&row); !errors.Is(err, report.ErrFormat) {
		t.Errorf("Write: %v", err)
	}
	if err := w.WriteHeader(); !errors.Is(err, report.ErrFormat) {
		t.Errorf("WriteHeader: %v", err)
	}
	if err := report.Read(strings.NewReader(""), 7, nil); !errors.Is(err, report.ErrFormat) {
		t.Errorf("Read: %v", err)
	}
}
