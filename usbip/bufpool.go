package usbip

import (
	"math/bits"
	"sync"
)

// Transfer buffers are pooled by power-of-two size class, so a busy import
// does not allocate and clear a fresh buffer for every URB. A buffer is
// only ever sent up to the length the device filled, so reuse exposes no
// stale bytes.
const (
	minPooledShift = 9  // 512 bytes
	maxPooledShift = 24 // 16 MiB
)

var bufPools [maxPooledShift + 1]sync.Pool

func sizeClass(n int) int {
	if n <= 1<<minPooledShift {
		return minPooledShift
	}
	return bits.Len(uint(n - 1))
}

// getBuf returns a buffer of length n, from the pool when n is in range.
func getBuf(n int) []byte {
	c := sizeClass(n)
	if c > maxPooledShift {
		return make([]byte, n)
	}
	if p, ok := bufPools[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<c)
}

// putBuf returns a buffer from getBuf to its pool.
func putBuf(b []byte) {
	c := bits.Len(uint(cap(b))) - 1
	if c < minPooledShift || c > maxPooledShift || cap(b) != 1<<c {
		return
	}
	b = b[:0]
	bufPools[c].Put(&b)
}
