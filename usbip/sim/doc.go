// Package sim provides simulated USB devices that implement usbip.Device,
// for tests, examples and demos of USB/IP forwarding without hardware:
//
//   - [Keyboard]: a HID boot keyboard (class 3/1/1) whose interrupt IN
//     endpoint delivers the reports queued with Keyboard.Type or
//     Keyboard.Report, and stays pending until then.
//   - [Serial]: a CDC-ACM serial adapter (class 2/2/1 plus a data
//     interface) whose port is looped back: bytes written to the bulk OUT
//     endpoint come back on the bulk IN endpoint. It answers
//     SET/GET_LINE_CODING and SET_CONTROL_LINE_STATE.
//   - [Storage]: a mass-storage device (class 8/6/0x50, bulk-only
//     transport) running SCSI over a RAM disk, for throughput.
//
// Every device answers the standard requests of USB 2.0 chapter 9
// (descriptors, configuration, interface, endpoint halt), reports high
// speed, uses a pid.codes test VID:PID (1209:0001, 0002, 0003) and carries
// the serial number it was created with, so server filters can match it.
//
// # Use
//
//	srv := usbip.NewServer(nil)
//	kbd := sim.NewKeyboard("KBD-1")
//	busID, _ := srv.Add("", kbd)
//	go srv.Serve(ln)
//	kbd.Type(ctx, "hello\n") // the importer's interrupt URBs now complete
//
// All devices are safe for concurrent use; transfers block until they can
// complete or their context is cancelled. After Close every transfer fails
// with usbip.ErrNoDevice.
package sim
