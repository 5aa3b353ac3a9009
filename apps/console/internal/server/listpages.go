package server

// eachPage calls f with the cursor of each page of 1000 until a page is
// short or f fails: how the pages that show or export everything walk a
// list.
func eachPage(f func(after string) (string, int, error)) error {
	after := ""
	for {
		next, n, err := f(after)
		if err != nil || n < 1000 {
			return err
		}
		after = next
	}
}

// lastKey is the cursor after a page of n items, f giving the last
// item's key.
func lastKey(n int, f func() string) string {
	if n == 0 {
		return ""
	}
	return f()
}
