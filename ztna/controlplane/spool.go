package controlplane

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// A spool is a directory of event batch files, named by a sequence number
// so they sort in emission order. A file is written to a temporary name,
// fsynced and renamed, so after a crash a spool file is either whole or
// absent; the directory is fsynced after every rename and removal.
type spool struct {
	dir string

	mu   sync.Mutex // guards next
	next uint64
}

const spoolExt = ".events.json"

func openSpool(dir string) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSpool, err)
	}
	s := &spool{dir: dir}
	files, err := s.files()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if n, ok := spoolSeq(f); ok && n >= s.next {
			s.next = n + 1
		}
	}
	// Temporary files are batches whose Emit never returned: not promised.
	tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	for _, t := range tmps {
		os.Remove(t)
	}
	return s, nil
}

func spoolSeq(name string) (uint64, bool) {
	n, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), spoolExt), 10, 64)
	return n, err == nil
}

// files lists the spool's batch files, oldest first.
func (s *spool) files() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSpool, err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), spoolExt) {
			if _, ok := spoolSeq(e.Name()); ok {
				out = append(out, filepath.Join(s.dir, e.Name()))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := spoolSeq(out[i])
		b, _ := spoolSeq(out[j])
		return a < b
	})
	return out, nil
}

// append writes events durably as one batch file.
func (s *spool) append(events []Event) error {
	data, err := json.Marshal(EventBatch{Events: events})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSpool, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := filepath.Join(s.dir, fmt.Sprintf("%020d%s", s.next, spoolExt))
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSpool, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%w: %v", ErrSpool, err)
	}
	s.next++
	return s.syncDir()
}

func (s *spool) syncDir() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSpool, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("%w: %v", ErrSpool, err)
	}
	return nil
}

// read loads one batch file. A file that does not parse is renamed aside
// (".bad") so one damaged file cannot stop delivery of the rest.
func (s *spool) read(name string) ([]Event, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSpool, err)
	}
	var b EventBatch
	if err := json.Unmarshal(data, &b); err != nil {
		os.Rename(name, name+".bad")
		return nil, fmt.Errorf("%w: %s: %v", ErrSpool, filepath.Base(name), err)
	}
	return b.Events, nil
}

func (s *spool) remove(name string) error {
	if err := os.Remove(name); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("%w: %v", ErrSpool, err)
	}
	return s.syncDir()
}

// pending counts the events waiting in the spool.
func (s *spool) pending() (int, error) {
	files, err := s.files()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		evs, err := s.read(f)
		if err != nil {
			continue
		}
		n += len(evs)
	}
	return n, nil
}
