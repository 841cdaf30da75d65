package accesslog

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// RotatingFile is an append-only file rotated by size: a write that would
// take it beyond MaxSize first renames PATH to PATH.1 (PATH.1 to PATH.2
// and so on, the oldest beyond MaxBackups removed) and starts a new PATH.
// A single write larger than MaxSize still goes whole into a fresh file.
// It is safe for concurrent use, though a Log writes from one goroutine.
type RotatingFile struct {
	path       string
	maxSize    int64
	maxBackups int

	mu     sync.Mutex
	f      *os.File // nil when closed, or when a rotation could not reopen path
	size   int64
	closed bool
}

// OpenRotating opens (creating or appending to) path, rotated beyond
// maxSize bytes (0: never) keeping maxBackups old files (0: none).
func OpenRotating(path string, maxSize int64, maxBackups int) (*RotatingFile, error) {
	r := &RotatingFile{path: path, maxSize: maxSize, maxBackups: max(maxBackups, 0)}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("access log: %w", err)
	}
	r.f, r.size = f, st.Size()
	return nil
}

// Write appends p, rotating first when p would not fit. After a rotation
// that could not reopen the file, each Write tries again, so that a
// passing failure (a full directory, a file limit) loses only the lines
// written meanwhile.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, os.ErrClosed
	}
	if r.f == nil {
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	if r.maxSize > 0 && r.size > 0 && r.size+int64(len(p)) > r.maxSize {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// rotate shifts the backups and reopens path; r.mu is held.
func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("access log: rotating %s: %w", r.path, err)
	}
	r.f = nil
	backup := func(i int) string { return r.path + "." + strconv.Itoa(i) }
	var errs []error
	if r.maxBackups == 0 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	} else {
		if err := os.Remove(backup(r.maxBackups)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		for i := r.maxBackups - 1; i >= 1; i-- {
			if err := os.Rename(backup(i), backup(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		if err := os.Rename(r.path, backup(1)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.open(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("access log: rotating %s: %w", r.path, errors.Join(errs...))
	}
	return nil
}

// Close closes the file.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
