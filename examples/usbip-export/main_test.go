package main

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gonaut/gonaut/usbip"
)

func TestExportServesAndDenies(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // run listens on it again
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, addr, "hid,cdcacm,storage", "1-2", false) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var devs []usbip.ExportedDevice
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			devs, err = usbip.List(ctx, c)
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(devs) != 3 {
		t.Fatalf("exports %d devices", len(devs))
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := usbip.Import(ctx, c, "1-2", nil); !errors.Is(err, usbip.ErrDenied) {
		t.Fatalf("import of the denied bus id: %v", err)
	}
}
