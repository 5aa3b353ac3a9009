package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mdp/qrterminal/v3"
	"go.yaml.in/yaml/v3"

	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna"
)

func init() {
	register(command{name: "peer", summary: "add a device: print its wg-quick config and a QR code", run: runPeer})
}

const peerUsage = `usage: gateway peer add NAME --user USER --config FILE [--endpoint HOST:PORT] [--out FILE] [--no-qr]
       gateway peer add NAME --connector SITE --config FILE [--endpoint HOST:PORT] [--out FILE] [--no-qr]

Adds a device NAME for USER to the config file (a new key pair and the next
free address), and prints the device's wg-quick configuration and a QR code
that the WireGuard mobile apps scan. With --connector it adds a connector
at SITE instead (resources then say connector: NAME), whose printed
configuration is what the ztna.Connector embedded at the site runs. A
running gateway picks the peer up on SIGHUP.
`

func runPeer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprint(stderr, peerUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return exitError{2}
	}
	fs := flag.NewFlagSet("peer add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, peerUsage) }
	user := fs.String("user", "", "the `USER` the device belongs to")
	site := fs.String("connector", "", "add a connector at `SITE` instead of a device")
	cfgPath := fs.String("config", "", "gateway config `FILE` to add the device to")
	endpoint := fs.String("endpoint", "", "`HOST:PORT` the device reaches the gateway at (default: the config's endpoint)")
	out := fs.String("out", "", "also write the wg-quick config to `FILE` (mode 0600)")
	noQR := fs.Bool("no-qr", false, "do not print a QR code")
	// Accept the name before or after the flags.
	rest := args[1:]
	var name string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		name, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{2}
	}
	if name == "" && fs.NArg() == 1 {
		name = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usageError{"peer add takes one NAME"}
	}
	if name == "" || (*user == "") == (*site == "") || *cfgPath == "" {
		return usageError{"peer add needs NAME, --config, and either --user or --connector"}
	}
	wg, err := addPeer(*cfgPath, name, *user, *site, *endpoint)
	if err != nil {
		return err
	}
	text, err := wg.MarshalText()
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, text, 0o600); err != nil {
			return err
		}
	}
	stdout.Write(text)
	if !*noQR {
		fmt.Fprintln(stdout)
		qrterminal.GenerateHalfBlock(string(text), qrterminal.L, stdout)
	}
	if *site != "" {
		fmt.Fprintf(stderr, "added connector %q at site %q to %s; send the gateway SIGHUP to apply\n", name, *site, *cfgPath)
	} else {
		fmt.Fprintf(stderr, "added device %q for user %q to %s; send the gateway SIGHUP to apply\n", name, *user, *cfgPath)
	}
	return nil
}

// addPeer adds a device of user, or a connector at site when site is
// set, to the config file and returns its wg-quick configuration. The file is edited as a YAML tree, so comments and the
// order of keys survive, and replaced atomically after the result has
// been validated.
func addPeer(path, name, user, site, endpoint string) (tunnel.Config, error) {
	cfg, err := ztna.ReadConfig(path)
	if err != nil {
		return tunnel.Config{}, err
	}
	gwKey, err := cfg.Key()
	if err != nil {
		return tunnel.Config{}, err
	}
	addr, err := ztna.NextDeviceAddress(cfg)
	if err != nil {
		return tunnel.Config{}, err
	}
	key, err := tunnel.GeneratePrivateKey()
	if err != nil {
		return tunnel.Config{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return tunnel.Config{}, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return tunnel.Config{}, err
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return tunnel.Config{}, fmt.Errorf("%s: the top level is not a mapping", path)
	}
	section := "devices"
	var entry any = ztnaDevice{ID: name, User: user, PublicKey: key.PublicKey().String(), Address: addr.String()}
	if site != "" {
		section = "connectors"
		entry = ztnaConnector{ID: name, Site: site, PublicKey: key.PublicKey().String(), Address: addr.String()}
	}
	var devs *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == section {
			devs = root.Content[i+1]
		}
	}
	if devs == nil || devs.Kind != yaml.SequenceNode {
		devs = &yaml.Node{Kind: yaml.SequenceNode}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: section}, devs)
	}
	var dn yaml.Node
	if err := dn.Encode(entry); err != nil {
		return tunnel.Config{}, err
	}
	devs.Content = append(devs.Content, &dn)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return tunnel.Config{}, err
	}
	if _, err := ztna.ParseConfig(buf.Bytes()); err != nil {
		return tunnel.Config{}, fmt.Errorf("adding %q: %w", name, err)
	}
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gateway-config-*")
	if err != nil {
		return tunnel.Config{}, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return tunnel.Config{}, err
	}
	tmp.Chmod(mode)
	if err := tmp.Close(); err != nil {
		return tunnel.Config{}, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return tunnel.Config{}, err
	}
	return ztna.PeerConfig(cfg, gwKey.PublicKey(), key, addr, endpoint)
}

// ztnaConnector is the YAML form of a new connector.
type ztnaConnector struct {
	ID        string `yaml:"id"`
	Site      string `yaml:"site"`
	PublicKey string `yaml:"public_key"`
	Address   string `yaml:"address"`
}

// ztnaDevice is the YAML form of a new device: only the keys peer add sets.
type ztnaDevice struct {
	ID        string `yaml:"id"`
	User      string `yaml:"user"`
	PublicKey string `yaml:"public_key"`
	Address   string `yaml:"address"`
}

func qrPrint(w io.Writer, text string) {
	qrterminal.GenerateHalfBlock(text, qrterminal.L, w)
	fmt.Fprintln(w)
}
