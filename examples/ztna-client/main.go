// Command ztna-client reaches a private web app through a Gonaut gateway,
// the way an application embeds ztna.Client: no root, no TUN device, names
// resolved by the gateway.
//
//	gateway demo --dir /tmp/demo &         # writes /tmp/demo/ann.conf
//	go run ./examples/ztna-client -config /tmp/demo/ann.conf http://wiki.office/
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/gonaut/gonaut/internal/cli"
	"github.com/gonaut/gonaut/ztna"
)

func main() {
	cli.Describe("ztna-client", "-config FILE URL",
		"Fetches URL through a Gonaut gateway with the wg-quick file FILE, the way an\napplication embeds ztna.Client: no root, no TUN device.")
	cfg := flag.String("config", "", "wg-quick file printed by 'gateway peer add' or 'gateway demo'")
	flag.Parse()
	if *cfg == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, *cfg, flag.Arg(0)); err != nil {
		cli.Fail("ztna-client", err)
	}
}

// run fetches url through the gateway that the wg-quick file cfg names and
// writes the status and body to w.
func run(ctx context.Context, w io.Writer, cfg, url string) error {
	c := &ztna.Client{ConfigFile: cfg}
	defer c.Close()
	hc := c.HTTPClient()
	defer hc.CloseIdleConnections()

	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	fmt.Fprintln(w, resp.Status)
	_, err = io.Copy(w, resp.Body)
	return err
}
