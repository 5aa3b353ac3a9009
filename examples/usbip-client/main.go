// Command usbip-client lists the devices a USB/IP server exports and reads
// from one of them in userspace, with no kernel module:
//
//	go run ./examples/usbip-client -server 127.0.0.1:3240
//	go run ./examples/usbip-client -server 127.0.0.1:3240 -busid 1-1
//
// With -busid it imports the device and, depending on what it is, prints
// the keys a keyboard types, echoes a line through a CDC-ACM serial
// loopback, or reads the capacity and first block of a mass-storage
// device.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gonaut/gonaut/internal/cli"
	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

func main() {
	cli.Describe("usbip-client", "[-server HOST:PORT] [-busid ID] [-keys N]",
		"Lists the devices a USB/IP server exports and reads from one of them in\nuserspace, with no kernel module.")
	server := flag.String("server", "127.0.0.1:3240", "USB/IP server address")
	busID := flag.String("busid", "", "device to import and read from (default: list only)")
	keys := flag.Int("keys", 5, "keyboard: how many characters to read")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *server, *busID, *keys); err != nil {
		cli.Fail("usbip-client", err)
	}
}

func run(ctx context.Context, server, busID string, keys int) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return err
	}
	devs, err := usbip.List(ctx, conn)
	conn.Close()
	if err != nil {
		return err
	}
	for _, dev := range devs {
		fmt.Printf("%s %04x:%04x class %02x/%02x/%02x, %d interface(s), %s speed\n",
			dev.BusID, dev.Vendor, dev.Product, dev.Class, dev.SubClass, dev.Protocol, dev.NumInterfaces, dev.Speed)
	}
	if busID == "" {
		return nil
	}
	conn, err = d.DialContext(ctx, "tcp", server)
	if err != nil {
		return err
	}
	dev, err := usbip.Import(ctx, conn, busID, nil)
	if err != nil {
		return err
	}
	defer dev.Close()
	info := dev.Info()
	fmt.Printf("imported %s: serial %q\n", busID, info.Serial)
	if _, err := dev.Control(ctx, usbip.Setup{Request: usbip.RequestSetConfiguration, Value: 1}, nil); err != nil {
		return fmt.Errorf("set configuration: %w", err)
	}
	if len(info.Interfaces) == 0 {
		return errors.New("device has no interfaces")
	}
	switch it := info.Interfaces[0]; it.Class {
	case 3:
		return readKeys(ctx, dev, keys)
	case 2:
		return echoSerial(ctx, dev)
	case 8:
		return readDisk(ctx, dev)
	default:
		return fmt.Errorf("no reader for interface class %#x", it.Class)
	}
}

func readKeys(ctx context.Context, dev *usbip.RemoteDevice, n int) error {
	fmt.Print("keys: ")
	for got := 0; got < n; {
		var r [8]byte
		if _, err := dev.Transfer(ctx, sim.KeyboardEndpoint, r[:]); err != nil {
			return err
		}
		if ch, ok := sim.CharFor(r); ok {
			fmt.Printf("%q ", ch)
			got++
		}
	}
	fmt.Println()
	return nil
}

func echoSerial(ctx context.Context, dev *usbip.RemoteDevice) error {
	msg := []byte("ping through USB/IP\n")
	if _, err := dev.Transfer(ctx, sim.SerialOutEndpoint, msg); err != nil {
		return err
	}
	buf := make([]byte, 512)
	n, err := dev.Transfer(ctx, sim.SerialInEndpoint, buf)
	if err != nil {
		return err
	}
	fmt.Printf("serial echo: %q\n", buf[:n])
	return nil
}

// readDisk issues READ CAPACITY(10) and READ(10) of block 0 over the
// bulk-only transport.
func readDisk(ctx context.Context, dev *usbip.RemoteDevice) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	capb := make([]byte, 8)
	if err := scsi(ctx, dev, 1, []byte{0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, capb); err != nil {
		return err
	}
	blocks := uint64(binary.BigEndian.Uint32(capb)) + 1
	size := binary.BigEndian.Uint32(capb[4:])
	fmt.Printf("disk: %d blocks of %d bytes (%d MiB)\n", blocks, size, blocks*uint64(size)>>20)
	blk := make([]byte, size)
	if err := scsi(ctx, dev, 2, []byte{0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, blk); err != nil {
		return err
	}
	fmt.Printf("block 0 starts % x\n", blk[:16])
	return nil
}

func scsi(ctx context.Context, dev *usbip.RemoteDevice, tag uint32, cb, in []byte) error {
	cbw := make([]byte, 31)
	binary.LittleEndian.PutUint32(cbw, 0x43425355)
	binary.LittleEndian.PutUint32(cbw[4:], tag)
	binary.LittleEndian.PutUint32(cbw[8:], uint32(len(in)))
	cbw[12], cbw[14] = 0x80, byte(len(cb))
	copy(cbw[15:], cb)
	if _, err := dev.Transfer(ctx, sim.StorageOutEndpoint, cbw); err != nil {
		return err
	}
	if _, err := dev.Transfer(ctx, sim.StorageInEndpoint, in); err != nil {
		return err
	}
	csw := make([]byte, 13)
	if _, err := dev.Transfer(ctx, sim.StorageInEndpoint, csw); err != nil {
		return err
	}
	if csw[12] != 0 {
		return fmt.Errorf("scsi command %#x failed (status %d)", cb[0], csw[12])
	}
	return nil
}
