// Package syncio has the writers that several goroutines share in this
// module's commands and tests: the library writes its log records from
// a source's login goroutine, while the program writes too.
package syncio

import (
	"bytes"
	"io"
	"sync"
)

// Writer makes W safe for concurrent use: one Write at a time, so that
// each line a caller writes whole stays whole.
type Writer struct {
	mu sync.Mutex
	W  io.Writer
}

func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.W.Write(p)
}

// Buffer is a bytes.Buffer safe for concurrent use, for output that
// tests read while, or after, other goroutines write it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Reset empties the buffer.
func (b *Buffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}
