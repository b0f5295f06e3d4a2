# version, help, hostname and the local commands.
start_daemon
say version
mmp version
say help for a prefix, abbreviated
mmp help xm callb
say help for nothing that exists
mmp help xmpp frobnicate
say hostname set and shown
mmp hostname node-1.example.com
mmp hostname
say hostname with a bad name
mmp hostname "bad name"
mmp hostname -bad
say exit is for the shell only, and one-shot exit is harmless
mmp exit
