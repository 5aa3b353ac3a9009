package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// auditKeyFlags are the ways the audit commands learn the checkpoint
// public key.
type auditKeyFlags struct {
	dsn, keyFile, pubKey *string
}

func addAuditKeyFlags(fs *flag.FlagSet) auditKeyFlags {
	return auditKeyFlags{
		dsn:     fs.String("db", "", "SQLite file (default console.db) or postgres:// URL"),
		keyFile: fs.String("audit-key", "", "the console's audit signing key file (default: as console serve; $"+auditKeyEnv+" wins)"),
		pubKey:  fs.String("public-key", "", "the checkpoint public key (base64), instead of the key file"),
	}
}

// publicKey is the key the flags give; nil when none was given and the
// default key file does not exist.
func (f auditKeyFlags) publicKey() (ed25519.PublicKey, error) {
	if *f.pubKey != "" {
		return store.DecodePublicKey(*f.pubKey)
	}
	path := *f.keyFile
	if path == "" {
		path = defaultAuditKeyPath(storeDSN(*f.dsn))
	}
	k, _, err := loadAuditKey(path, false)
	if err != nil {
		if *f.keyFile == "" && os.Getenv(auditKeyEnv) == "" && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return k.Public().(ed25519.PublicKey), nil
}

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fset.SetOutput(stderr)
	kf := addAuditKeyFlags(fset)
	file := fset.String("checkpoints", "", "a file from console audit checkpoints, kept outside the database, to check the log against")
	if err := fset.Parse(args); err != nil {
		return err
	}
	pub, err := kf.publicKey()
	if err != nil {
		return err
	}
	var exported []store.AuditCheckpoint
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		filePub, cs, err := store.ParseCheckpoints(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *file, err)
		}
		if pub != nil && !pub.Equal(filePub) {
			return fmt.Errorf("%s: its public key %s is not the audit key's %s", *file, store.EncodePublicKey(filePub), store.EncodePublicKey(pub))
		}
		pub, exported = filePub, cs
	}
	st, err := openStore(ctx, *kf.dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.VerifyAuditSigned(ctx, pub, exported)
	if err != nil {
		return err
	}
	if !rep.OK {
		what := "BROKEN"
		if rep.Truncated {
			what = "TRUNCATED"
		}
		fmt.Fprintf(stdout, "audit log %s at entry %d: %s (%d entries read)\n", what, rep.BrokenAt, rep.Reason, rep.Entries)
		return exitCode(1)
	}
	fmt.Fprintf(stdout, "audit log intact: %d entries, head %s\n", rep.Entries, rep.Head)
	switch {
	case !rep.SignaturesChecked && rep.Checkpoints > 0:
		fmt.Fprintf(stdout, "%d checkpoints match the chain, but their signatures were not checked: give -audit-key, -public-key or -checkpoints\n", rep.Checkpoints)
	case rep.Checkpoints == 0:
		fmt.Fprintf(stdout, "no signed checkpoint: the whole log is held by its chain alone\n")
	default:
		fmt.Fprintf(stdout, "%d signed checkpoints verified, through entry %d; %d later entries are held by the chain alone\n", rep.Checkpoints, rep.SignedThrough, rep.Entries-rep.SignedThrough)
	}
	return nil
}

// cmdCheckpoints writes every stored checkpoint to stdout as JSON lines
// with the public key, to be kept somewhere the database's writers
// cannot reach. It refuses to vouch for a checkpoint whose signature
// does not verify.
func cmdCheckpoints(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("audit checkpoints", flag.ContinueOnError)
	fset.SetOutput(stderr)
	kf := addAuditKeyFlags(fset)
	if err := fset.Parse(args); err != nil {
		return err
	}
	pub, err := kf.publicKey()
	if err != nil {
		return err
	}
	if pub == nil {
		return errors.New("no audit key: give -audit-key or -public-key")
	}
	st, err := openStore(ctx, *kf.dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	var after int64
	for {
		cs, err := st.ListAuditCheckpoints(ctx, after, 0)
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			return nil
		}
		for i := range cs {
			if !cs[i].Verify(pub) {
				return fmt.Errorf("the checkpoint of entry %d has a bad signature; run console audit verify", cs[i].Seq)
			}
		}
		if err := store.WriteCheckpoints(stdout, pub, cs); err != nil {
			return err
		}
		after = cs[len(cs)-1].Seq
	}
}
