# pyserial's RFC 2217 client driven step by step by interop_pyserial_test.go.
# Each step prints a line the test waits for; the test answers on stdin.
import sys
import serial

url = sys.argv[1]
s = serial.serial_for_url(url, do_not_open=True, baudrate=115200, timeout=10)
# A pty has no DTR/RTS: open with both off so pyserial's own DTR/RTS
# requests at open time are answered with the value it asked for.
s.dtr = False
s.rts = False
s.open()
print("open", flush=True)

data = bytes(range(256)) * 4
s.write(data)
s.flush()
print("wrote", flush=True)

sys.stdin.readline()
got = s.read(len(data))
print("read ok" if got == data[::-1] else "read mismatch %d" % len(got), flush=True)

s.baudrate = 9600
s.stopbits = serial.STOPBITS_TWO
print("mode", flush=True)
sys.stdin.readline()

# A Linux pty forces CS8 and no parity: the server answers with what the
# tty holds, and pyserial reports the rejection.
try:
    s.bytesize = serial.SEVENBITS
    print("datasize accepted", flush=True)
except ValueError:
    print("datasize rejected", flush=True)
s.bytesize = serial.EIGHTBITS
s.baudrate = 4800
print("datasize 8 baud 4800", flush=True)
sys.stdin.readline()

s.send_break(0.05)
print("break", flush=True)

try:
    s.dtr = True
    print("dtr accepted", flush=True)
except ValueError as e:
    print("dtr rejected", flush=True)

print("cts %s" % s.cts, flush=True)
s.close()
print("closed", flush=True)
