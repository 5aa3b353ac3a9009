package store_test

import (
	"bytes"
	"crypto/ed25519"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// FuzzParseCheckpoints feeds the exported-checkpoint parser arbitrary
// files: it never panics, and whatever it accepts writes back to a file
// that parses to the same key and checkpoints.
func FuzzParseCheckpoints(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	pub := key.Public().(ed25519.PublicKey)
	hash := strings.Repeat("ab", 32)
	var good bytes.Buffer
	store.WriteCheckpoints(&good, pub, []store.AuditCheckpoint{
		store.SignCheckpoint(key, 1000, hash, time.Unix(1764684000, 123456789)),
		store.SignCheckpoint(key, 2000, hash, time.Unix(1764684060, 0)),
	})
	f.Add(good.String())
	f.Add(good.String() + good.String()) // two exports appended
	f.Add("\n\n" + good.String() + "   \n")
	f.Add(strings.Replace(good.String(), `"seq":1000`, `"seq":-1`, 1))
	f.Add(strings.Replace(good.String(), `"seq":1000`, `"seq":1000,"extra":1`, 1))
	f.Add(strings.Replace(good.String(), hash, strings.ToUpper(hash), 1))
	f.Add(`{"seq":1,"hash":"` + hash + `","time":"0001-01-01T00:00:00Z","public_key":"","signature":""}`)
	f.Add(`{"seq":1}{"seq":2}`)
	f.Add(strings.Repeat("x", 5000))
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		p, cs, err := store.ParseCheckpoints(strings.NewReader(in))
		if err != nil {
			if p != nil || cs != nil {
				t.Fatalf("error %v with results", err)
			}
			return
		}
		var b bytes.Buffer
		if err := store.WriteCheckpoints(&b, p, cs); err != nil {
			t.Fatal(err)
		}
		p2, cs2, err := store.ParseCheckpoints(&b)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", b.String(), err)
		}
		if !bytes.Equal(p, p2) || len(cs) != len(cs2) {
			t.Fatalf("round trip changed the file: %d vs %d checkpoints", len(cs), len(cs2))
		}
		for i := range cs {
			if cs[i].Seq != cs2[i].Seq || cs[i].Hash != cs2[i].Hash || !cs[i].Time.Equal(cs2[i].Time) || !reflect.DeepEqual(cs[i].Signature, cs2[i].Signature) {
				t.Fatalf("checkpoint %d changed: %+v vs %+v", i, cs[i], cs2[i])
			}
		}
	})
}
