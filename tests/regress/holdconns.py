"""Open NPER connections from each source address and hold them until
the file 'release' appears (60 s at most); then say how many mmpd had
closed. Shared by regress cases 17 and 32; run in the case's directory.
usage: holdconns.py PORT NPER ADDR..."""
import os, socket, sys, time
port, nper, addrs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
hdr = (b"<?xml version='1.0'?><stream:stream to='example.com' "
       b"xmlns='jabber:client' "
       b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
socks = []
for a in addrs:
    for i in range(nper):
        try:
            s = socket.create_connection(('127.0.0.1', port), 5, (a, 0))
        except OSError:
            continue
        if i % 2:
            try:
                s.send(hdr)
            except OSError:
                pass
        socks.append(s)
with open('opened', 'w') as f:
    f.write('%d\n' % len(socks))
end = time.monotonic() + 60
while not os.path.exists('release') and time.monotonic() < end:
    time.sleep(0.05)
closed = 0
for s in socks:
    # Read what mmpd sent (features, a stream error) up to EOF or a wait.
    s.setblocking(False)
    try:
        while True:
            if s.recv(65536) == b'':
                closed += 1
                break
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
    s.close()
print('attack: %d connections, %d held open by mmpd' %
      (len(socks), len(socks) - closed))
