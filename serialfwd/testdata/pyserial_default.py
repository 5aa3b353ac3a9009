# pyserial's rfc2217:// client opened with its defaults (DTR and RTS on),
# as an application would, against a port backed by a pty. Driven step by
# step by TestPyserialDefaultOpenOnPty: each step prints a line.
import sys
import serial

s = serial.serial_for_url(sys.argv[1], baudrate=115200, timeout=10)
print("open dtr=%s rts=%s" % (s.dtr, s.rts), flush=True)

s.write(b"hello from pyserial\n")
s.flush()
print("wrote", flush=True)

s.baudrate = 9600
print("baud %d" % s.baudrate, flush=True)

s.send_break(0.05)
print("break", flush=True)

s.rtscts = True
print("rtscts %s" % s.rtscts, flush=True)
s.rtscts = False

s.dtr = False
s.rts = False
s.dtr = True
print("toggled", flush=True)
s.close()
print("closed", flush=True)
